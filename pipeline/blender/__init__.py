"""The only bpy outside the add-on: version differences, the scene build, export presets, renders."""
