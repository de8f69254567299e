"""Helpers shared by the reference scripts (imported from the script's own folder)."""


def lcg_points(n, d, seed):
    """hone-tune's `test_util::lcg_points` (crates/hone-tune/src/lib.rs): deterministic points in
    [0, 1) on a 0.001 grid from a 64-bit LCG, `((s >> 33) % 1000) / 1000`, `d` draws per point."""
    s = seed
    out = []
    for _ in range(n):
        row = []
        for _ in range(d):
            s = (s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
            row.append(((s >> 33) % 1000) / 1000.0)
        out.append(row)
    return out


def show(label, value):
    print(f"{label}: {value!r}")
