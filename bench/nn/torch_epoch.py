"""PyTorch's side of bench/nn/run.sh: seconds per training epoch of the same model, data shape,
batch size, optimiser and thread count as `hone-bench nn-epoch`.

usage: torch_epoch.py ARCH WINDOWS FEATURES SEQ_LEN EPOCHS THREADS
Windows are views (Tensor.unfold) of one [rows, features] tensor, gathered per batch, as hone
reads them. Versions: torch 2.15.0 (CPU), numpy 2.4.6 (.tools/torch-venv).
"""

import statistics
import sys
import time

import torch
from torch import nn


class Rnn(nn.Module):
    def __init__(self, cls, f):
        super().__init__()
        self.rnn = cls(f, 64, 2, batch_first=True)
        self.head = nn.Linear(64, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1, :])


class Cnn(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.c1 = nn.Conv1d(f, 64, 3)
        self.c2 = nn.Conv1d(64, 64, 3)
        self.head = nn.Linear(64, 1)

    def forward(self, x):
        h = x.transpose(1, 2)
        h = torch.relu(self.c1(nn.functional.pad(h, (2, 0))))
        h = torch.relu(self.c2(nn.functional.pad(h, (2, 0))))
        return self.head(h[:, :, -1])


class Mlp(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(f, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, x):
        return self.net(x[:, -1, :])


def main():
    arch, n, f, seq_len, epochs, threads = sys.argv[1], *map(int, sys.argv[2:7])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    if arch == "mlp":
        seq_len = 1
    rows = torch.rand(n + seq_len - 1, f) * 2 - 1
    y = (rows[seq_len - 1 :, 0] + rows[seq_len - 1 :, 1] > 0).float().unsqueeze(1)
    windows = rows.unfold(0, seq_len, 1).transpose(1, 2)  # [n, seq_len, f], a view
    model = {"lstm": lambda: Rnn(nn.LSTM, f), "gru": lambda: Rnn(nn.GRU, f), "cnn1d": lambda: Cnn(f), "mlp": lambda: Mlp(f)}[arch]()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    loss_fn = nn.BCEWithLogitsLoss()
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(n)
        total = 0.0
        for i in range(0, n, 256):
            idx = order[i : i + 256]
            xb, yb = windows[idx], y[idx]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        times.append(time.perf_counter() - start)
        print(f"epoch {epoch + 1} {times[-1]:.3f} s (loss {total / n:.4f})")
    print(f"torch {arch}: median epoch {statistics.median(times):.3f} s over {epochs} epochs ({n} windows x {seq_len} x {f}, batch 256, {threads} threads)")


if __name__ == "__main__":
    main()
