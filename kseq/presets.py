"""Model and training presets, as plain data: the one place their defaults live.

`tiny` is for tests and smoke runs, `small` is the CPU default, `base` is for
a GPU. Every key is a field of `kseq.training_config.TrainingConfig` and a
`kseq train` flag (`--hidden-dim 128`, `--no-jit-compile`), which wins.
`subword_alpha` > 0 samples a new SentencePiece segmentation of every
training pair each epoch (subword regularization); 0 keeps the best one.
`bleu_subset` > 0 chooses model.keras by greedy BLEU on that many validation
sources, scored after each epoch; 0 chooses it by validation loss. `patience`
> 0 stops training after that many epochs without a better one.
"""

PRESETS = {
    "tiny": dict(
        vocabulary_size=500, num_encoder_layers=1, num_decoder_layers=1, hidden_dim=32,
        num_heads=2, intermediate_dim=64, dropout=0.0, attention_dropout=0.0, max_source_length=40,
        max_target_length=40, epochs=2, tokens_per_batch=2048, learning_rate=3e-3,
        warmup_steps=20, label_smoothing=0.1, weight_decay=0.0, jit_compile=False, subword_alpha=0.0,
        bleu_subset=0, patience=0,
    ),
    "small": dict(
        # Tuned in the 30-minute race (see BENCHMARKS.md): no dropout, since a few epochs on a
        # CPU leave the model under- rather than over-fitted (raise it for long runs on a GPU),
        # 8,000 pieces, and a peak learning rate of 2e-3.
        vocabulary_size=8000, num_encoder_layers=2, num_decoder_layers=2, hidden_dim=256,
        num_heads=4, intermediate_dim=1024, dropout=0.0, attention_dropout=0.0, max_source_length=64,
        max_target_length=64, epochs=4, tokens_per_batch=2048, learning_rate=2e-3,
        warmup_steps=300, label_smoothing=0.1, weight_decay=0.01, jit_compile=False, subword_alpha=0.0,
        bleu_subset=500, patience=0,
    ),
    "base": dict(
        vocabulary_size=16000, num_encoder_layers=6, num_decoder_layers=6, hidden_dim=512,
        num_heads=8, intermediate_dim=2048, dropout=0.1, attention_dropout=0.0, max_source_length=128,
        max_target_length=128, epochs=20, tokens_per_batch=16384, learning_rate=7e-4,
        warmup_steps=4000, label_smoothing=0.1, weight_decay=0.01, jit_compile=True, subword_alpha=0.0,
        bleu_subset=500, patience=0,
    ),
}
