"""Writes a tiny GGUF model for the end-to-end test against a real llama.cpp server.

The model cannot read. It is a one-layer llama whose layer adds nothing (zero output
projections), so the logits of the next token depend only on the current one: a bigram table
written into the output matrix. Under the JSON-schema grammar the server derives from the
request, greedy decoding of that table gives one short, valid answer for any report that
contains a capital "F" (e.g. "FINDINGS:"):

    {"labels":{"Fracture":{"confidence":1,"evidence":"F","status":"negative"}}}

The vocabulary is GPT-2 style byte-level BPE, one token per byte (the one merge never applies
to UTF-8 text) plus BOS/EOS, so every string the grammar allows can be spelt.

Usage: python tiny_model.py OUT.gguf   (needs the `gguf` package from PyPI)
"""

import sys

import numpy as np
from gguf import GGUFWriter, TokenType


def byte_tokens():
    """GPT-2's printable stand-in for each byte (bytes_to_unicode)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    mapping, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            mapping[byte] = chr(byte)
        else:
            mapping[byte] = chr(256 + extra)
            extra += 1
    return [mapping[byte] for byte in range(256)]


def main(path):
    bytes_ = byte_tokens()
    # llama.cpp wants at least one merge: two bytes that never follow each other in UTF-8.
    merge = (bytes_[0xFE], bytes_[0xFF])
    tokens = bytes_ + ["".join(merge), "<s>", "</s>"]
    bos, eos = 257, 258
    vocab = len(tokens)
    hidden, heads, ffn, layers = 272, 4, 32, 1

    # Preferences of the next token given the current one; whitespace is never preferred, so the
    # grammar's optional spaces are skipped. Each choice the grammar leaves open has one best.
    table = np.zeros((vocab, vocab), dtype=np.float32)  # [next, current]
    byte = {chr(b): b for b in range(128)}
    for space in " \t\n\r":
        table[byte[space], :] = -10.0
    prefer = [
        ("{", '"', 5.0),  # open a property rather than close the labels object empty
        ('"', "F", 5.0),  # the observation key "Fracture", and the evidence "F"
        ('"', "n", 4.0),  # status "negative"
        ("F", '"', 5.0),  # end the evidence after "F"
        (":", "1", 5.0),  # confidence 1
        ("1", ",", 5.0),  # and nothing after the 1
        ("}", "}", 5.0),  # close rather than add another observation
    ]
    for current, following, score in prefer:
        table[byte[following], byte[current]] = score
    table[eos, byte["}"]] = 3.0  # end of the answer

    embeddings = np.zeros((vocab, hidden), dtype=np.float32)
    embeddings[np.arange(vocab), np.arange(vocab)] = 1.0  # one-hot: RMS norm keeps the direction
    output = np.zeros((vocab, hidden), dtype=np.float32)
    output[:, :vocab] = table

    writer = GGUFWriter(path, "llama")
    writer.add_name("cxr-labeler test bigram")
    writer.add_context_length(16384)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(heads)
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_file_type(0)  # all F32
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([TokenType.NORMAL] * 257 + [TokenType.CONTROL, TokenType.CONTROL])
    writer.add_token_merges([" ".join(merge)])
    writer.add_bos_token_id(bos)
    writer.add_eos_token_id(eos)
    writer.add_add_bos_token(False)

    ones = np.ones(hidden, dtype=np.float32)
    writer.add_tensor("token_embd.weight", embeddings)
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", output)
    for layer in range(layers):
        prefix = f"blk.{layer}"
        writer.add_tensor(f"{prefix}.attn_norm.weight", ones)
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"{prefix}.{name}.weight", np.zeros((hidden, hidden), dtype=np.float32))
        writer.add_tensor(f"{prefix}.ffn_norm.weight", ones)
        writer.add_tensor(f"{prefix}.ffn_gate.weight", np.zeros((ffn, hidden), dtype=np.float32))
        writer.add_tensor(f"{prefix}.ffn_up.weight", np.zeros((ffn, hidden), dtype=np.float32))
        writer.add_tensor(f"{prefix}.ffn_down.weight", np.zeros((hidden, ffn), dtype=np.float32))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main(sys.argv[1])
