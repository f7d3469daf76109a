"""Text helpers every layer uses: spoken-form (`speech`) and WER (`wer`) normalisation."""
