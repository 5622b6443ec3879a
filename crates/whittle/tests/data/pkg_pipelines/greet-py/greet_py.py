"""Says hello."""
import sys


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "world"
    print(f"hello from python, {name}")
    return 0
