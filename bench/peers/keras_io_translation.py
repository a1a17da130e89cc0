"""The keras.io recipe "English-to-Spanish translation with KerasNLP", as published.

Written here from the example's description, as the baseline kseq is measured
against: lowercased pairs, a WordPiece vocabulary of 15,000 per language
(reserved [PAD] [UNK] [START] [END]), sequences of 40, one
TransformerEncoder and one TransformerDecoder (embedding 256, intermediate
2048, 8 heads) with padding masked (`mask_zero`), a softmax output, batch 64, rmsprop, sparse categorical
cross-entropy, and greedy decoding whose `next` function re-runs the decoder
over the whole 40-position prompt at every step.
"""

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from keras import ops

MAX_SEQUENCE_LENGTH = 40
VOCABULARY_SIZE = 15000
EMBED_DIM = 256
INTERMEDIATE_DIM = 2048
NUM_HEADS = 8
BATCH_SIZE = 64
RESERVED_TOKENS = ["[PAD]", "[UNK]", "[START]", "[END]"]


def build_tokenizers(pairs):
    """WordPiece tokenizers for the (lowercased) English and Spanish sides."""
    english = [e.lower() for e, _ in pairs]
    spanish = [s.lower() for _, s in pairs]
    tokenizers = []
    for texts in (english, spanish):
        vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
            tf.data.Dataset.from_tensor_slices(texts).batch(1000), vocabulary_size=VOCABULARY_SIZE,
            reserved_tokens=RESERVED_TOKENS,
        )
        tokenizers.append(keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocabulary, lowercase=False))
    return tuple(tokenizers)


def make_dataset(pairs, english_tokenizer, spanish_tokenizer, shuffle=True):
    """Pads every pair to 40 positions, as the recipe does."""
    english_packer = keras_hub.layers.StartEndPacker(
        sequence_length=MAX_SEQUENCE_LENGTH, pad_value=english_tokenizer.token_to_id("[PAD]"))
    spanish_packer = keras_hub.layers.StartEndPacker(
        sequence_length=MAX_SEQUENCE_LENGTH + 1,
        start_value=spanish_tokenizer.token_to_id("[START]"),
        end_value=spanish_tokenizer.token_to_id("[END]"),
        pad_value=spanish_tokenizer.token_to_id("[PAD]"))

    def preprocess(english, spanish):
        english = english_packer(english_tokenizer(english))
        spanish = spanish_packer(spanish_tokenizer(spanish))
        return ({"encoder_inputs": english, "decoder_inputs": spanish[:, :-1]}, spanish[:, 1:])

    dataset = tf.data.Dataset.from_tensor_slices(
        ([e.lower() for e, _ in pairs], [s.lower() for _, s in pairs]))
    if shuffle:
        dataset = dataset.shuffle(2048)
    return dataset.batch(BATCH_SIZE).map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).prefetch(16)


def build_model():
    encoder_inputs = keras.Input(shape=(None,), dtype="int64", name="encoder_inputs")
    # "We also need to mask the padding tokens": mask_zero, as the recipe says,
    # carries the padding mask into attention and out of the loss.
    x = keras_hub.layers.TokenAndPositionEmbedding(
        VOCABULARY_SIZE, MAX_SEQUENCE_LENGTH, EMBED_DIM, mask_zero=True)(encoder_inputs)
    encoder_outputs = keras_hub.layers.TransformerEncoder(INTERMEDIATE_DIM, NUM_HEADS)(inputs=x)
    encoder = keras.Model(encoder_inputs, encoder_outputs)

    decoder_inputs = keras.Input(shape=(None,), dtype="int64", name="decoder_inputs")
    encoded_seq_inputs = keras.Input(shape=(None, EMBED_DIM), name="decoder_state_inputs")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        VOCABULARY_SIZE, MAX_SEQUENCE_LENGTH, EMBED_DIM, mask_zero=True)(decoder_inputs)
    x = keras_hub.layers.TransformerDecoder(INTERMEDIATE_DIM, NUM_HEADS)(
        decoder_sequence=x, encoder_sequence=encoded_seq_inputs)
    x = keras.layers.Dropout(0.5)(x)
    decoder_outputs = keras.layers.Dense(VOCABULARY_SIZE, activation="softmax")(x)
    decoder = keras.Model([decoder_inputs, encoded_seq_inputs], decoder_outputs)

    outputs = decoder([decoder_inputs, encoder(encoder_inputs)])
    model = keras.Model([encoder_inputs, decoder_inputs], outputs, name="transformer")
    model.compile("rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def decode_sequences(model, english_tokenizer, spanish_tokenizer, sentences):
    """The recipe's greedy decoding: the whole prompt through the decoder at every step."""
    batch_size = len(sentences)
    english_packer = keras_hub.layers.StartEndPacker(
        sequence_length=MAX_SEQUENCE_LENGTH, pad_value=english_tokenizer.token_to_id("[PAD]"))
    encoder_input_tokens = ops.convert_to_tensor(
        english_packer(english_tokenizer([s.lower() for s in sentences])))

    def next(prompt, cache, index):
        logits = model([encoder_input_tokens, prompt])[:, index - 1, :]
        hidden_states = None
        return logits, hidden_states, cache

    start = ops.full((batch_size, 1), spanish_tokenizer.token_to_id("[START]"), dtype="int32")
    pad = ops.full((batch_size, MAX_SEQUENCE_LENGTH - 1), spanish_tokenizer.token_to_id("[PAD]"), dtype="int32")
    prompt = ops.concatenate((start, pad), axis=-1)
    generated_tokens = keras_hub.samplers.GreedySampler()(
        next, prompt, stop_token_ids=[spanish_tokenizer.token_to_id("[END]")], index=1)
    # The sampler runs until every row has ended; keras.io decodes one
    # sentence at a time, so in a batch each row is cut after its own [END].
    ids = ops.convert_to_numpy(generated_tokens)[:, 1:]
    ended = np.cumsum(ids == spanish_tokenizer.token_to_id("[END]"), axis=1)
    ids = np.where(ended - (ids == spanish_tokenizer.token_to_id("[END]")) > 0, 0, ids)
    texts = spanish_tokenizer.detokenize(ids)
    results = []
    for text in texts.numpy() if hasattr(texts, "numpy") else texts:
        text = text.decode("utf-8") if isinstance(text, bytes) else text
        for token in RESERVED_TOKENS:
            text = text.replace(token, "")
        results.append(" ".join(text.split()))
    return results, ids


class PeerTranslator:
    """The recipe's model and decoding as a kseq backend: `translate(texts) -> (texts, ids)`."""

    def __init__(self, model, english_tokenizer, spanish_tokenizer):
        self.model = model
        self.english_tokenizer = english_tokenizer
        self.spanish_tokenizer = spanish_tokenizer

    @classmethod
    def build(cls, pairs):
        """The untrained recipe, its vocabularies learned on `pairs`."""
        english, spanish = build_tokenizers(pairs)
        return cls(build_model(), english, spanish)

    def fit(self, pairs, callbacks):
        """Trains on `pairs` until a callback stops it (a `kseq.time_budget.TimeBudget`)."""
        self.model.fit(make_dataset(pairs, self.english_tokenizer, self.spanish_tokenizer),
                       epochs=10_000, callbacks=callbacks, verbose=0)

    def translate(self, texts):
        return decode_sequences(self.model, self.english_tokenizer, self.spanish_tokenizer, list(texts))
