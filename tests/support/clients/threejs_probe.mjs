// Loads GLB files with three.js's GLTFLoader (node-three-gltf) and reports what a web engine sees: the skinned
// mesh, its skeleton, skin attributes, texture and morph targets, every warning three.js printed, and the skinned
// positions (three.js's own SkinnedMesh.applyBoneTransform) at rest and after rotating named bones.
// Usage: node threejs_probe.mjs jobs.json  ->  one JSON array on stdout.
// jobs.json: [{"path": "...glb", "pose": {"boneName": [x, y, z, w], ...}}]  (bone-local rotations, applied after
// each bone's rest rotation)
import { readFileSync } from 'node:fs';
import { GLTFLoader } from 'node-three-gltf';
import * as THREE from 'three';

const messages = [];
for (const level of ['warn', 'error']) {
  console[level] = (...args) => messages.push(`${level}: ${args.map(String).join(' ')}`);
}

function skinnedPositions(scene, mesh) {
  scene.updateMatrixWorld(true);  // the bones are not children of the mesh: update the whole scene
  mesh.skeleton.update();
  const pos = mesh.geometry.getAttribute('position');
  const out = new Array(pos.count * 3);
  const v = new THREE.Vector3();
  for (let i = 0; i < pos.count; i++) {
    v.fromBufferAttribute(pos, i);
    mesh.applyBoneTransform(i, v);
    v.applyMatrix4(mesh.matrixWorld);
    out[3 * i] = v.x; out[3 * i + 1] = v.y; out[3 * i + 2] = v.z;
  }
  return out;
}

const jobs = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const results = [];
for (const job of jobs) {
  const before = messages.length;
  const gltf = await new GLTFLoader().loadAsync(job.path);
  const meshes = [];
  gltf.scene.traverse((o) => { if (o.isSkinnedMesh) meshes.push(o); });
  const mesh = meshes[0];
  const geometry = mesh.geometry;
  const index = geometry.getAttribute('skinIndex');
  const weight = geometry.getAttribute('skinWeight');
  let maxInfluences = 0; let worstSum = 0; let badIndex = 0;
  for (let i = 0; i < weight.count; i++) {
    let n = 0; let sum = 0;
    for (let k = 0; k < 4; k++) {
      const w = weight.getComponent(i, k);
      if (w > 0) { n++; if (index.getComponent(i, k) >= mesh.skeleton.bones.length) badIndex++; }
      sum += w;
    }
    maxInfluences = Math.max(maxInfluences, n);
    worstSum = Math.max(worstSum, Math.abs(sum - 1));
  }
  const map = mesh.material.map;
  const size = (t) => (t && t.image ? { width: t.image.width, height: t.image.height, name: t.name } : null);
  const rest = skinnedPositions(gltf.scene, mesh);
  for (const [name, q] of Object.entries(job.pose || {})) {
    const bone = mesh.skeleton.getBoneByName(THREE.PropertyBinding.sanitizeNodeName(name));
    if (bone) bone.quaternion.multiply(new THREE.Quaternion(q[0], q[1], q[2], q[3]));
  }
  results.push({
    path: job.path,
    skinned_meshes: meshes.length,
    bones: mesh.skeleton.bones.map((b) => b.name),
    vertices: geometry.getAttribute('position').count,
    max_influences: maxInfluences,
    worst_weight_sum_error: worstSum,
    bad_joint_indices: badIndex,
    morph_targets: (geometry.morphAttributes.position || []).length,
    texture: size(map),
    normal_map: size(mesh.material.normalMap),
    roughness_map: size(mesh.material.roughnessMap),
    rest: rest,
    posed: skinnedPositions(gltf.scene, mesh),
    messages: messages.slice(before),
  });
}
process.stdout.write(JSON.stringify({ three: THREE.REVISION, results }));
