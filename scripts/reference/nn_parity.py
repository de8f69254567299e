"""PyTorch parity of hone's neural models (crates/hone-models/tests/neural.rs runs this).

Each argument is a directory written by the test:
  model.safetensors  hone's weights under PyTorch's parameter names; its metadata
                     "hone.shape" is the architecture (hone's NetShape as JSON)
  x.csv              the rows, one per line, in time order
  hone.csv           hone's raw outputs (logits or standardised values), row-major

The script builds the equivalent torch.nn module (nn.Linear / nn.Conv1d / nn.LSTM / nn.GRU),
loads the weights with load_state_dict(strict=True), scores the same windows (rows
t-seq_len+1 .. t, zeros before the first row) and prints `max_abs_diff <value>` per case.

Versions: Python 3.11, torch 2.15.0, safetensors 0.8.0, numpy 2.4.6 (.tools/torch-venv, made by
scripts/setup.sh).
"""

import json
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

ACT = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "gelu": nn.GELU(), "silu": nn.SiLU()}


class Mlp(nn.Module):
    def __init__(self, s):
        super().__init__()
        widths = [s["n_features"]] + s["hidden"]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.head = nn.Linear(widths[-1], s["n_outputs"])
        self.act = ACT[s["activation"]]

    def forward(self, x):  # x: [batch, seq_len, features]
        h = x[:, -1, :]
        for layer in self.layers:
            h = self.act(layer(h))
        return self.head(h)


class Cnn1d(nn.Module):
    def __init__(self, s):
        super().__init__()
        widths = [s["n_features"]] + s["channels"]
        k, d = s["kernel_size"], s["dilation"]
        self.convs = nn.ModuleList(
            nn.Conv1d(a, b, k, dilation=d**i) for i, (a, b) in enumerate(zip(widths, widths[1:]))
        )
        self.pads = [(k - 1) * d**i for i in range(len(self.convs))]
        self.causal = s["padding"] == "causal"
        self.head = nn.Linear(widths[-1], s["n_outputs"])
        self.act = ACT[s["activation"]]

    def forward(self, x):
        h = x.transpose(1, 2)  # [batch, channels, time]
        for conv, total in zip(self.convs, self.pads):
            left = total if self.causal else total // 2
            h = self.act(conv(F.pad(h, (left, total - left))))
        return self.head(h[:, :, -1])


class Rnn(nn.Module):
    def __init__(self, s):
        super().__init__()
        cls = nn.LSTM if s["arch"] == "lstm" else nn.GRU
        self.rnn = cls(
            s["n_features"],
            s["hidden_size"],
            s["num_layers"],
            batch_first=True,
            bidirectional=s["bidirectional"],
        )
        dirs = 2 if s["bidirectional"] else 1
        self.head = nn.Linear(s["hidden_size"] * dirs, s["n_outputs"])

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1, :])


def module(shape):
    return {"mlp": Mlp, "cnn1d": Cnn1d, "lstm": Rnn, "gru": Rnn}[shape["arch"]](shape)


def windows(x, seq_len):
    n, f = x.shape
    padded = np.concatenate([np.zeros((seq_len - 1, f), dtype=np.float32), x])
    return np.stack([padded[t : t + seq_len] for t in range(n)])


def main(cases):
    torch.set_num_threads(1)
    for case in cases:
        with safe_open(f"{case}/model.safetensors", "pt") as st:
            shape = json.loads(st.metadata()["hone.shape"])
        net = module(shape)
        net.load_state_dict(load_file(f"{case}/model.safetensors"), strict=True)
        net.eval()
        x = np.loadtxt(f"{case}/x.csv", delimiter=",", dtype=np.float32, ndmin=2)
        hone = np.loadtxt(f"{case}/hone.csv", dtype=np.float64).reshape(len(x), -1)
        with torch.no_grad():
            out = net(torch.from_numpy(windows(x, shape["seq_len"]))).double().numpy()
        print(f"case {case} {shape['arch']}")
        print(f"max_abs_diff {np.abs(out - hone).max():.3e}")


if __name__ == "__main__":
    main(sys.argv[1:])
