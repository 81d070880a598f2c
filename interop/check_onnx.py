#!/usr/bin/python3
"""Runs ONNX's own checker (Debian's python3-onnx) with full_check on each
file named on the command line; prints one line per file and exits 1 if any
fails."""
import sys

import onnx

failed = 0
for path in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        print("ok", path)
    except Exception as e:  # the checker raises several exception types
        failed += 1
        print("FAIL", path, e)
sys.exit(1 if failed else 0)
