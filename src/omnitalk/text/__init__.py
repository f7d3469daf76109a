"""Text helpers every layer uses: spoken-form normalisation (`speech`) and WER normalisation (`wer`)."""
