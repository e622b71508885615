// Runs the Khronos glTF-Validator (npm gltf-validator) on GLB files; prints one JSON object path -> report.
const fs = require("fs");
const validator = require("gltf-validator");

async function main() {
  const out = {};
  for (const path of process.argv.slice(2)) {
    const data = new Uint8Array(fs.readFileSync(path));
    out[path] = await validator.validateBytes(data, { maxIssues: 500, uri: path });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  console.error(String(err));
  process.exit(2);
});
