"""The plain check `firewatch alerts verify` is measured against: json.loads and hashlib.sha256 per line.

Usage: verify_chain.py LOG — prints the count of records, or exits 1 at the first broken line.
"""
import hashlib
import json
import sys

prev, seq, count = "0" * 64, None, 0
with open(sys.argv[1], "rb") as log:
    for line in log:
        line = line.rstrip(b"\n")
        record = json.loads(line)
        if record["prev"] != prev or (seq is not None and record["seq"] != seq + 1):
            sys.exit(f"broken at line {count + 1}")
        prev, seq, count = hashlib.sha256(line).hexdigest(), record["seq"], count + 1
print(count)
