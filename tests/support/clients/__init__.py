"""Probes that run the client loaders (three.js, ufbx) and what the client tier exports."""
