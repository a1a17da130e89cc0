"""Marian (Opus-MT) checkpoints of Hugging Face's `MarianMTModel` as kseq models.

A Marian folder holds `config.json`, the weights (`model.safetensors` or
`pytorch_model.bin`), `source.spm`, `target.spm` and `vocab.json`.
`MarianCheckpoint` reads it without PyTorch or `transformers`: the weights
only, never pickled code. `MarianCheckpoint.to_keras()` builds the
`Seq2SeqTransformer` that computes what `MarianMTModel` computes
(post-layer-norm, Marian's activation, sinusoidal positions, scaled
embeddings, `final_logits_bias`), and `MarianVocabularies` gives the two
SentencePiece models kseq tokenizes with. `kseq import` (`kseq.commands.import_model`)
writes them into a run directory. It imports Keras only to build the model
(`to_keras`): `kseq import --help` reads `DEFAULT_MAX_LENGTH` without it.
"""

import collections
import json
import os
import pickle
import zipfile

import numpy as np
from sentencepiece import sentencepiece_model_pb2

from kseq.errors import MissingFileError, RunDirectoryError, UsageError
from kseq.run_directory import RunDirectory
from kseq.special_ids import END_ID, NUM_SPECIAL_IDS, PAD_ID, START_ID, UNKNOWN_ID
from kseq.training_config import MODEL_FIELDS, TrainingConfig
from kseq.vocabulary import Vocabulary

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
VOCABULARY_FILES = ("source.spm", "target.spm", "vocab.json")
HUB_FILES = ("config.json", "generation_config.json", "tokenizer_config.json", *WEIGHT_FILES, *VOCABULARY_FILES)
ACTIVATIONS = {"swish": "silu", "silu": "silu", "gelu": "gelu", "relu": "relu"}
SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": "bfloat16"}
TORCH_STORAGE_DTYPES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
                        "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32}
# sentencepiece_model.proto's piece types.
NORMAL, UNKNOWN, CONTROL = 1, 2, 3


class CheckpointError(RunDirectoryError):
    """A checkpoint kseq cannot import: another architecture, missing or misshapen tensors."""


def resolve(model):
    """A local Marian folder for `model`: the folder itself, or a Hub name downloaded by
    `huggingface_hub` into the user's cache (the weights in one format only)."""
    if os.path.isdir(model):
        return model
    if os.path.exists(model) or model.count("/") != 1:
        raise UsageError(f"{model} is neither a folder nor a Hugging Face Hub name such as "
                         "Helsinki-NLP/opus-mt-en-es.")
    try:
        import huggingface_hub
    except ImportError:
        raise UsageError(f"Downloading {model} needs huggingface_hub: `pip install huggingface_hub`, "
                         "or pass a local folder.") from None
    try:
        files = set(huggingface_hub.list_repo_files(model))
        weights = next((name for name in WEIGHT_FILES if name in files), WEIGHT_FILES[-1])
        patterns = [name for name in HUB_FILES if name not in WEIGHT_FILES] + [weights]
        return huggingface_hub.snapshot_download(model, allow_patterns=patterns)
    except Exception as error:  # the Hub client's errors have no common base worth naming
        raise MissingFileError(f"Cannot download {model} from the Hugging Face Hub "
                               f"({type(error).__name__}: {error}).") from None


def read_safetensors(path):
    """{name: array} from a safetensors file: a JSON header, then raw little-endian tensors."""
    with open(path, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        try:
            header = json.loads(f.read(header_size))
        except (ValueError, UnicodeDecodeError):
            raise CheckpointError(f"{path} is not a safetensors file (its header is not JSON).") from None
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info.get("dtype") not in SAFETENSORS_DTYPES:
            raise CheckpointError(f"{path}: tensor {name} has dtype {info.get('dtype')}; kseq reads "
                                  f"{', '.join(SAFETENSORS_DTYPES)}.")
        start, end = info["data_offsets"]
        dtype = _numpy_dtype(SAFETENSORS_DTYPES[info["dtype"]])
        if end > len(data) or (end - start) != dtype.itemsize * int(np.prod(info["shape"])):
            raise CheckpointError(f"{path}: tensor {name} does not fit the file (truncated?).")
        tensors[name] = np.frombuffer(data[start:end], dtype).reshape(info["shape"])
    return tensors


def read_state_dict(path):
    """{name: array} from PyTorch's `torch.save` zip, without PyTorch and without running its pickle.

    The unpickler resolves only what a state dict of tensors needs (an
    `OrderedDict`, `torch._utils._rebuild_tensor_v2`, typed storages) and
    refuses every other global, as `torch.load(weights_only=True)` does.
    """
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is not a PyTorch zip checkpoint (an old pickle-only file?): "
                              "convert it to safetensors.")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickle_name = next((n for n in names if n.endswith("data.pkl")), None)
        if pickle_name is None:
            raise CheckpointError(f"{path} holds no data.pkl: it is not a PyTorch checkpoint.")
        prefix = pickle_name[: -len("data.pkl")]

        def rebuild_tensor(storage, offset, size, stride, *_):
            if not size:
                return storage[offset].copy()
            strides = [s * storage.itemsize for s in stride]
            return np.lib.stride_tricks.as_strided(storage[offset:], tuple(size), strides).copy()

        class WeightsUnpickler(pickle.Unpickler):
            def find_class(self, module, name):
                if (module, name) == ("collections", "OrderedDict"):
                    return collections.OrderedDict
                if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                    return rebuild_tensor
                if module == "torch" and name in TORCH_STORAGE_DTYPES:
                    return name
                raise CheckpointError(f"{path}: refuses to unpickle {module}.{name}: kseq reads state "
                                      "dicts of tensors only. Convert the checkpoint to safetensors.")

            def persistent_load(self, saved_id):
                _, storage_type, key, _, _ = saved_id
                return np.frombuffer(archive.read(f"{prefix}data/{key}"), _numpy_dtype(TORCH_STORAGE_DTYPES[storage_type]))

        with archive.open(pickle_name) as f:
            try:
                state = WeightsUnpickler(f).load()
            except (pickle.UnpicklingError, ValueError, KeyError, TypeError, EOFError) as error:
                raise CheckpointError(f"{path} is damaged ({type(error).__name__}: {error}).") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is not a state dict (it holds a {type(state).__name__}).")
    return dict(state)


def _numpy_dtype(dtype):
    if dtype == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(dtype)


class MarianVocabularies:
    """Marian's vocabulary (vocab.json and two SentencePiece models) as kseq's id space.

    Marian tokenizes with `source.spm` (or, for targets, `target.spm`), then
    looks each piece up in vocab.json (a piece missing there is `<unk>`); its
    embedding rows follow vocab.json. Its special ids differ from kseq's
    (end 0, unknown 1, pad last, and the decoder starts from pad), and the
    SentencePiece files' own ids mean nothing to the model. kseq reserves 0
    pad, 1 unknown, 2 start, 3 end, and its tokenizers are SentencePiece
    models whose piece ids are the model's ids.

    The route chosen: kseq's ids are Marian's, reordered, and the embedding
    rows follow them (`marian_ids[kseq id]` is the Marian row). Ids:
    0 → Marian's pad row, 1 → `<unk>`, 2 → pad again (Marian's decoder
    start: the one row gets two ids), 3 → `</s>`, then every other
    vocab.json entry in Marian's order, then one id per SentencePiece piece
    that vocab.json lacks (their rows copy `<unk>`'s, so they compute what
    Marian computes for them). Each side's SentencePiece model is its .spm
    file rewritten with the pieces in kseq's order: its own pieces keep
    their scores and types, so it segments text exactly as before; pieces
    only the other side has are CONTROL pieces, which segmentation never
    produces (UNUSED would say it better, but tensorflow-text's fast
    tokenizer refuses that type), except single characters: SentencePiece
    gives a character it does not know as itself, which Marian finds in
    vocab.json, so these are pieces scored as SentencePiece scores an unknown
    character. Both models thus have the same size, and
    encoder and decoder share one embedding, as in Marian.

    Generation suppresses the ids Marian's `generate()` cannot produce: pad
    and start (transformers forbids pad through `bad_words_ids`) and the
    copies of `<unk>`. Limits: a target-side CONTROL piece detokenizes to
    nothing, where transformers would print the piece (a Marian model only
    produces them if it never learned not to); Moses punctuation
    normalization (transformers' optional `sacremoses` step) and language
    tokens (`>>es<<`) are not applied; a run of two or more
    characters unknown to a side's SentencePiece model, one of them in
    vocab.json, segments apart where Marian keeps one unknown piece.

    Args:
        vocab: dict piece -> Marian id (vocab.json).
        source_spm, target_spm: bytes of the two SentencePiece models.
        pad, unknown, end: Marian's special ids.
    """

    def __init__(self, vocab, source_spm, target_spm, pad, unknown, end):
        self.vocab = vocab
        self.marian_size = max(vocab.values()) + 1
        pieces = {i: piece for piece, i in vocab.items()}
        protos = []
        for data in (source_spm, target_spm):
            proto = sentencepiece_model_pb2.ModelProto()
            proto.ParseFromString(data)
            protos.append(proto)
        self.source_proto, self.target_proto = protos
        spm_pieces = sorted({p.piece for proto in protos for p in proto.pieces
                             if p.type not in (UNKNOWN, CONTROL) and p.piece not in vocab})
        rest = [i for i in range(self.marian_size) if i not in (pad, unknown, end)]
        self.marian_ids = np.array([pad, unknown, pad, end] + rest + [unknown] * len(spm_pieces), np.int64)
        self.pieces = ([pieces[pad], pieces[unknown], self._start_piece(), pieces[end]]
                       + [pieces.get(i, f"<marian:{i}>") for i in rest] + spm_pieces)
        self.size = len(self.pieces)
        self.suppressed_ids = [PAD_ID, START_ID] + list(range(self.size - len(spm_pieces), self.size))
        # Marian id -> kseq id, for comparing logits and ids with Marian's.
        self.kseq_ids = np.zeros((self.marian_size,), np.int64)
        for kseq_id in range(self.size - len(spm_pieces) - 1, -1, -1):  # the lowest kseq id wins
            self.kseq_ids[self.marian_ids[kseq_id]] = kseq_id

    def _start_piece(self):
        return next(name for name in ("<s>", "<kseq_start>", "<kseq_start_2>") if name not in self.vocab)

    def protos(self):
        """(source, target) SentencePiece models (bytes) with kseq's ids."""
        return self._proto(self.source_proto), self._proto(self.target_proto)

    def _proto(self, original):
        own = {p.piece: (p.score, p.type) for p in original.pieces if p.type not in (UNKNOWN, CONTROL)}
        # A character this model does not know comes out of SentencePiece as itself (an unknown
        # piece), and Marian then finds it in vocab.json if the other side's model knows it.
        # As a piece scored like SentencePiece's unknown node (the lowest score less 10), it
        # segments as before and gets vocab.json's id.
        unknown_score = min((p.score for p in original.pieces if p.type == NORMAL), default=0.0) - 10.0
        for piece in self.vocab:
            if len(piece) == 1 and piece not in own:
                own[piece] = (unknown_score, NORMAL)
        proto = sentencepiece_model_pb2.ModelProto()
        proto.CopyFrom(original)
        del proto.pieces[:]
        for kseq_id, piece in enumerate(self.pieces):
            score, kind = own.get(piece, (0.0, CONTROL))
            if kseq_id == UNKNOWN_ID:
                score, kind = 0.0, UNKNOWN
            elif kseq_id < NUM_SPECIAL_IDS:
                score, kind = 0.0, CONTROL
            proto.pieces.add(piece=piece, score=score, type=kind)
        spec = proto.trainer_spec
        spec.pad_id, spec.unk_id, spec.bos_id, spec.eos_id = PAD_ID, UNKNOWN_ID, START_ID, END_ID
        spec.pad_piece, spec.unk_piece, spec.bos_piece, spec.eos_piece = self.pieces[:NUM_SPECIAL_IDS]
        spec.vocab_size = self.size
        return proto.SerializeToString()


class MarianCheckpoint:
    """A Marian folder read into NumPy: its config, weights and vocabularies.

    Args:
        folder: a folder with config.json, model.safetensors or
            pytorch_model.bin, source.spm, target.spm and vocab.json.

    Example:
    >>> checkpoint = MarianCheckpoint("opus-mt-en-es")
    >>> model = checkpoint.to_keras(max_length=128)
    >>> source, target = checkpoint.vocabularies.protos()
    """

    def __init__(self, folder):
        self.folder = os.fspath(folder)
        self.config_path = self._file("config.json")
        with open(self.config_path, encoding="utf-8") as f:
            try:
                self.config = {**MARIAN_DEFAULTS, **json.load(f)}
            except json.JSONDecodeError as error:
                raise CheckpointError(f"{self.config_path} is not valid JSON ({error}).") from None
        self._check_config()
        self.weights_path = next((self.file(name) for name in WEIGHT_FILES if os.path.isfile(self.file(name))), None)
        if self.weights_path is None:
            raise MissingFileError(f"{self.folder} holds no weights: expected {' or '.join(WEIGHT_FILES)}.")
        tensors = (read_safetensors if self.weights_path.endswith(".safetensors") else read_state_dict)(
            self.weights_path)
        self.tensors = {name.removeprefix("model."): tensor for name, tensor in tensors.items()}
        self._check_tensors()
        with open(self._file("vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        c = self.config
        if len(vocab) != c["vocab_size"] or max(vocab.values()) != c["vocab_size"] - 1:
            raise CheckpointError(f"{self.file('vocab.json')} has {len(vocab)} entries (ids up to "
                                  f"{max(vocab.values())}), but {self.config_path} says vocab_size={c['vocab_size']}.")
        unknown = vocab.get("<unk>")
        if unknown is None:
            raise CheckpointError(f"{self.file('vocab.json')} has no <unk> entry.")
        with open(self._file("source.spm"), "rb") as f, open(self._file("target.spm"), "rb") as g:
            self.vocabularies = MarianVocabularies(vocab, f.read(), g.read(), pad=c["pad_token_id"],
                                                   unknown=unknown, end=c["eos_token_id"])

    def file(self, name):
        return os.path.join(self.folder, name)

    def _file(self, name):
        path = self.file(name)
        if not os.path.isfile(path):
            raise MissingFileError(f"{path} not found: a Marian folder holds config.json, "
                                   f"{' or '.join(WEIGHT_FILES)}, {', '.join(VOCABULARY_FILES)}.")
        return path

    def _check_config(self):
        c, path = self.config, self.config_path
        if c.get("model_type") != "marian":
            raise CheckpointError(f"{path}: model_type={c.get('model_type')!r}; kseq imports Marian checkpoints "
                                  "(model_type 'marian', MarianMTModel) only.")
        problems = []
        if c["activation_function"] not in ACTIVATIONS:
            problems.append(f"activation_function={c['activation_function']!r} (kseq knows {', '.join(ACTIVATIONS)})")
        if not c["share_encoder_decoder_embeddings"] or c.get("decoder_vocab_size") not in (None, c["vocab_size"]):
            problems.append("separate source and target vocabularies")
        if not c["tie_word_embeddings"]:
            problems.append("an output projection apart from the embedding (tie_word_embeddings=false)")
        if c["decoder_start_token_id"] != c["pad_token_id"]:
            problems.append(f"decoder_start_token_id={c['decoder_start_token_id']} other than the pad id")
        for key in ("encoder_attention_heads", "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim"):
            other = key.replace("encoder", "decoder") if key.startswith("encoder") else key.replace("decoder", "encoder")
            if c[key] != c[other]:
                problems.append(f"{key}={c[key]} differing from {other}={c[other]}")
        if c["d_model"] % c["encoder_attention_heads"]:
            problems.append(f"d_model={c['d_model']} not divisible by {c['encoder_attention_heads']} heads")
        if problems:
            raise CheckpointError(f"{path}: kseq cannot import a Marian model with {'; '.join(problems)}.")

    def expected_shapes(self):
        """{tensor name (without "model."): shape} that the config implies."""
        c = self.config
        d, ffn, vocab = c["d_model"], c["encoder_ffn_dim"], c["vocab_size"]
        shapes = {"shared.weight": (vocab, d), "final_logits_bias": (1, vocab)}
        for stack, layers in (("encoder", c["encoder_layers"]), ("decoder", c["decoder_layers"])):
            attentions = ("self_attn", "encoder_attn") if stack == "decoder" else ("self_attn",)
            for i in range(layers):
                prefix = f"{stack}.layers.{i}."
                for attention in attentions:
                    for projection in ("q_proj", "k_proj", "v_proj", "out_proj"):
                        shapes[f"{prefix}{attention}.{projection}.weight"] = (d, d)
                        shapes[f"{prefix}{attention}.{projection}.bias"] = (d,)
                    shapes[f"{prefix}{attention}_layer_norm.weight"] = (d,)
                    shapes[f"{prefix}{attention}_layer_norm.bias"] = (d,)
                shapes.update({f"{prefix}fc1.weight": (ffn, d), f"{prefix}fc1.bias": (ffn,),
                               f"{prefix}fc2.weight": (d, ffn), f"{prefix}fc2.bias": (d,),
                               f"{prefix}final_layer_norm.weight": (d,), f"{prefix}final_layer_norm.bias": (d,)})
        return shapes

    def _check_tensors(self):
        c = self.config
        expected = self.expected_shapes()
        # Copies of expected tensors that some checkpoints also store.
        tied = {"encoder.embed_tokens.weight": "shared.weight", "decoder.embed_tokens.weight": "shared.weight",
                "lm_head.weight": "shared.weight"}
        positions = {"encoder.embed_positions.weight": (c["max_position_embeddings"], c["d_model"]),
                     "decoder.embed_positions.weight": (c["max_position_embeddings"], c["d_model"])}
        for name, tensor in self.tensors.items():
            shape = expected.get(name) or positions.get(name) or (expected[tied[name]] if name in tied else None)
            if shape is None:
                raise CheckpointError(f"{self.weights_path}: tensor {name!r} is not part of a Marian model "
                                      f"({self.config_path} says model_type 'marian'): another architecture?")
            if tuple(tensor.shape) != tuple(shape):
                raise CheckpointError(f"{self.weights_path}: tensor {name!r} has shape {list(tensor.shape)}, but "
                                      f"{self.config_path} implies {list(shape)}.")
            if name in tied and not np.array_equal(tensor, self.tensors["shared.weight"]):
                raise CheckpointError(f"{self.weights_path}: tensor {name!r} differs from 'shared.weight': "
                                      "kseq imports Marian models with one shared embedding.")
        missing = [name for name in expected if name not in self.tensors and name != "final_logits_bias"]
        if missing:
            raise CheckpointError(f"{self.weights_path}: tensor {missing[0]!r} is missing"
                                  + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                                  + f"; {self.config_path} implies it.")

    def model_config(self, max_length=None):
        """The `Seq2SeqTransformer` arguments that compute what `MarianMTModel` computes."""
        c = self.config
        max_length = min(max_length or c["max_position_embeddings"], c["max_position_embeddings"])
        return dict(
            vocabulary_size=self.vocabularies.size, num_encoder_layers=c["encoder_layers"],
            num_decoder_layers=c["decoder_layers"], hidden_dim=c["d_model"], num_heads=c["encoder_attention_heads"],
            intermediate_dim=c["encoder_ffn_dim"], dropout=float(c["dropout"]),
            attention_dropout=float(c["attention_dropout"]), max_source_length=max_length,
            max_target_length=max_length, tie_embeddings=True, normalize_first=False,
            activation=ACTIVATIONS[c["activation_function"]], position_embedding="sinusoidal",
            scale_embeddings=bool(c["scale_embedding"]), logits_bias=True,
            suppressed_ids=self.vocabularies.suppressed_ids,
        )

    def to_keras(self, max_length=None):
        """A `Seq2SeqTransformer` holding the checkpoint's weights, in kseq's id order."""
        from kseq.library_internals import transformer_layer_parts
        from kseq.model import Seq2SeqTransformer

        model = Seq2SeqTransformer(**self.model_config(max_length))
        t, rows = self.tensors, self.vocabularies.marian_ids
        model.target_embedding.embeddings.assign(t["shared.weight"][rows].astype("float32"))
        bias = t.get("final_logits_bias", np.zeros((1, self.config["vocab_size"])))
        model.logits_bias_layer.bias.assign(bias[0][rows].astype("float32"))
        for stack, layers in (("encoder", model.encoder_layers), ("decoder", model.decoder_layers)):
            for i, layer in enumerate(layers):
                prefix = f"{stack}.layers.{i}."
                parts = transformer_layer_parts(layer)
                attentions = [("self_attn", parts.self_attention, parts.self_attention_norm)]
                if stack == "decoder":
                    attentions.append(("encoder_attn", parts.cross_attention, parts.cross_attention_norm))
                for name, attention, norm in attentions:
                    self._assign_attention(attention, prefix + name)
                    self._assign(norm.gamma, prefix + name + "_layer_norm.weight")
                    self._assign(norm.beta, prefix + name + "_layer_norm.bias")
                self._assign(parts.feedforward_intermediate_dense.kernel, prefix + "fc1.weight", np.transpose)
                self._assign(parts.feedforward_intermediate_dense.bias, prefix + "fc1.bias")
                self._assign(parts.feedforward_output_dense.kernel, prefix + "fc2.weight", np.transpose)
                self._assign(parts.feedforward_output_dense.bias, prefix + "fc2.bias")
                self._assign(parts.feedforward_norm.gamma, prefix + "final_layer_norm.weight")
                self._assign(parts.feedforward_norm.beta, prefix + "final_layer_norm.bias")
        return model

    def _assign_attention(self, attention, prefix):
        # torch Linear weights are (out, in); Keras' EinsumDense kernels (in, heads, head_dim)
        # for the projections and (heads, head_dim, out) for the output.
        for projection, dense in (("q_proj", attention.query_dense), ("k_proj", attention.key_dense),
                                  ("v_proj", attention.value_dense), ("out_proj", attention.output_dense)):
            self._assign(dense.kernel, f"{prefix}.{projection}.weight", np.transpose)
            self._assign(dense.bias, f"{prefix}.{projection}.bias")

    def _assign(self, variable, name, transform=None):
        value = self.tensors[name].astype("float32")
        value = transform(value) if transform else value
        variable.assign(value.reshape(variable.shape))


# MarianConfig's defaults, for keys a config.json may omit.
MARIAN_DEFAULTS = dict(
    vocab_size=58101, decoder_vocab_size=None, max_position_embeddings=1024, encoder_layers=12,
    encoder_ffn_dim=4096, encoder_attention_heads=16, decoder_layers=12, decoder_ffn_dim=4096,
    decoder_attention_heads=16, activation_function="gelu", d_model=1024, dropout=0.1, attention_dropout=0.0,
    decoder_start_token_id=58100, scale_embedding=False, pad_token_id=58100, eos_token_id=0,
    share_encoder_decoder_embeddings=True, tie_word_embeddings=True,
)


DEFAULT_MAX_LENGTH = 128


def imported_config(checkpoint, model, max_length):
    """The `TrainingConfig` an imported run records: the checkpoint's model, the "small"
    preset's training fields (for `kseq train --init`), its languages, and where it came from.

    Raises `UsageError` naming `--max-length` when the model it makes cannot work.
    """
    model_config = checkpoint.model_config(max_length)
    languages = {}
    if os.path.isfile(checkpoint.file("tokenizer_config.json")):
        with open(checkpoint.file("tokenizer_config.json"), encoding="utf-8") as f:
            tokenizer_config = json.load(f)
        languages = {"source_language": tokenizer_config.get("source_lang"),
                     "target_language": tokenizer_config.get("target_lang")}
    try:
        return TrainingConfig.from_preset(
            "small", preset=None, vocabulary_size=model_config["vocabulary_size"],
            **{key: model_config[key] for key in MODEL_FIELDS},
            # Two SentencePiece files over one id space: the encoder and decoder share the embedding.
            joint_vocabulary=False, imported_from=model, **languages)
    except UsageError as error:
        raise UsageError(f"Cannot import {model} with --max-length {max_length}: {error}") from None


def import_marian(model, out, max_length=DEFAULT_MAX_LENGTH, log=print):
    """Writes a run directory (config.json, the two vocabularies, model.keras) for a Marian
    checkpoint: a local folder or a Hub name. Returns the `RunDirectory`.

    `max_length` bounds sources and outputs, in tokens (the checkpoint's
    `max_position_embeddings` at most): the exports' buffers and caches have that size.
    """
    folder = resolve(model)
    checkpoint = MarianCheckpoint(folder)
    log(f"Read {checkpoint.weights_path}: {len(checkpoint.tensors)} tensors, "
        f"{checkpoint.vocabularies.marian_size} Marian ids -> {checkpoint.vocabularies.size} kseq ids.")
    config = imported_config(checkpoint, model, max_length)
    keras_model = checkpoint.to_keras(max_length)
    source, target = (Vocabulary(proto) for proto in checkpoint.vocabularies.protos())
    run = RunDirectory.create(out)
    run.save_vocabularies(source, target, joint_vocabulary=False)
    run.write_config(config, keras_model, target.size)
    run.save_model(keras_model)
    log(f"Wrote {run.path}: {keras_model.count_params():,} parameters.")
    return run
