#!/usr/bin/env python3
"""Rewrites the key table of docs/config.md from `lumac config --markdown`.

Usage: scripts/config_table.py build/app/lumac
The table is the block of lines starting with '|' right after the header line
'| key | type | unit | default | meaning |'; everything else in the file is kept.
"""
import pathlib
import subprocess
import sys

lumac = sys.argv[1] if len(sys.argv) > 1 else "build/app/lumac"
table = subprocess.run([lumac, "config", "--markdown"], check=True, capture_output=True,
                       text=True).stdout.splitlines()
doc = pathlib.Path(__file__).resolve().parent.parent / "docs" / "config.md"
lines = doc.read_text().splitlines()
header = "| key | type | unit | default | meaning |"
start = lines.index(header)
end = start
while end < len(lines) and lines[end].startswith("|"):
    end += 1
if table[0] != header:
    sys.exit(f"config_table: unexpected first line from lumac config --markdown: {table[0]}")
doc.write_text("\n".join(lines[:start] + table + lines[end:]) + "\n")
print(f"config_table: {len(table) - 2} keys written to {doc}")
