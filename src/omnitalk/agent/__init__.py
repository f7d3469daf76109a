"""The conversation runtime: turn-taking, streaming replies, barge-in, history."""
