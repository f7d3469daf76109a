"""Quality evaluations, run as `omnitalk eval NAME`: what a model gets right, where `bench`
measures how fast it runs. None exist yet; later issues add duplex turn-taking, codec round trip
and talker speech-text consistency, each a sub-command with its own flags, a table and --json.
"""
