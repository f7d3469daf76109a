"""Freeze-Omni's state head on a frozen causal LM: does the user's unfinished turn want an answer?

What it reads, per decision: the transcript of the user's turn so far, rendered as the start of
a chat user message with no end (`<|im_start|>user\\n...`), through the frozen LM. Two things of
the LM's last position feed the head: its last hidden state (what has been said) and the LM's
own log-probability that the message ends here (`<|im_end|>` next: semantic completeness, as
LiveKit's end-of-turn model reads SmolLM2). One more input says whether the assistant is
speaking, because "yeah" answers a question but is only a backchannel over a reply.
Timing (the pause itself) comes from the VAD that asks for a decision, not from the head.

States, Freeze-Omni's three plus Mini-Omni2's stop command as a fourth:
0 listen (the turn goes on), 1 respond (the turn is over: answer, or interrupt the reply),
2 ignore (noise, a backchannel: no answer, a reply keeps playing),
3 stop (a stop command: end the reply, start none).

The head is small (one hidden layer); its file holds the backbone's facts (hidden size, vocab,
the end token, the precision it was read in) so that a head is refused, with the difference
named, on another backbone.

Precision: a decision waits for one forward of the backbone, and on a CPU that forward is bound
by reading the weights. `int8` quantises the backbone's linear layers dynamically (int8 weights
and int8 activations through PyTorch's x86 kernels, fast with AVX2 and with AVX-512 VNNI alike;
bf16 is fast only with AMX or AVX-512 BF16), the MLP output projections excepted (below):
about 2x faster than fp32 for SmolLM2-135M here.
Its features differ from fp32's, so a head is trained and used in one precision, recorded in
its file.
"""

from __future__ import annotations

import json
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from omnitalk.duplex.states import State
from omnitalk.engines.base import EngineError

PACKAGED_HEAD = Path(__file__).with_name("heads") / "smollm2-135m.safetensors"
PRECISIONS = ("fp32", "int8")


@dataclass(frozen=True)
class Prompt:
    """How a transcript is shown to the LM: the opening of a chat user message."""

    prefix: str = "<|im_start|>user\n"
    end_token: str = "<|im_end|>"


@dataclass(frozen=True)
class HeadShape:
    hidden_size: int  # the backbone's
    width: int = 64


class StateHead(nn.Module):
    """[LM hidden state, log p(end), assistant speaking] -> logits over the four states."""

    extra_inputs = 2  # log p(end of message), assistant speaking

    def __init__(self, shape: HeadShape) -> None:
        super().__init__()
        self.shape = shape
        self.norm = nn.LayerNorm(shape.hidden_size)
        self.layers = nn.Sequential(
            nn.Linear(shape.hidden_size + self.extra_inputs, shape.width), nn.GELU(),
            nn.Linear(shape.width, len(State)),
        )

    def forward(self, hidden: torch.Tensor, log_p_end: torch.Tensor,
                speaking: torch.Tensor) -> torch.Tensor:
        extra = torch.stack([log_p_end.clamp(min=-20.0) / 10.0, speaking.float()], dim=-1)
        return self.layers(torch.cat([self.norm(hidden), extra], dim=-1))


@dataclass(frozen=True)
class Backbone:
    """The facts of a backbone a head depends on; stored in the head file and checked."""

    name: str
    hidden_size: int
    vocab_size: int
    end_token_id: int
    precision: str = "fp32"  # what the backbone computed in: the head's features depend on it


class TextReader:
    """The frozen LM: transcripts -> (last hidden state, log p(end of message)), cached."""

    def __init__(self, lm, tokenizer, name: str, precision: str = "fp32",
                 prompt: Prompt | None = None, cache_size: int = 256) -> None:
        if precision not in PRECISIONS:
            raise EngineError(f"a state head reads in {' or '.join(PRECISIONS)}, not {precision!r}")
        self.lm = lm.eval().requires_grad_(False)
        if precision == "int8":
            self.lm = _int8_dynamic(self.lm)
        # int8 activations are scaled by the whole batch's range: a transcript read beside
        # others (and their padding) would read differently from the same transcript alone.
        self._batch_size = 16 if precision == "fp32" else 1
        self.tokenizer = tokenizer
        self.prompt = prompt or Prompt()
        end = tokenizer.token_to_id(self.prompt.end_token)
        if end is None:
            raise EngineError(f"the backbone {name or 'SmolLM2'} has no {self.prompt.end_token!r} "
                              "token: give the head a prompt that uses one of its own tokens")
        config = lm.config
        self.backbone = Backbone(name, config.hidden_size, config.vocab_size, end, precision)
        self._cache: OrderedDict[str, tuple[torch.Tensor, float]] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def load(cls, backbone: str = "", precision: str = "fp32") -> TextReader:
        from omnitalk.train.surgery import load_lm

        lm, tokenizer = load_lm(backbone)
        return cls(lm, tokenizer, backbone, precision)

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(self.prompt.prefix + words_only(text),
                                     add_special_tokens=False).ids

    @torch.inference_mode()
    def read(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """[N, hidden] last hidden states and [N] log p(end), for N transcripts."""
        # In order of length, so that a batch pads little (a forward costs its longest row).
        missing = sorted((t for t in dict.fromkeys(texts) if t not in self._cache), key=len)
        for start in range(0, len(missing), self._batch_size):
            self._read_batch(missing[start:start + self._batch_size])
        rows = [self._cache[t] for t in texts]
        for text in texts:
            self._cache.move_to_end(text)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return torch.stack([h for h, _ in rows]), torch.tensor([p for _, p in rows])

    def _read_batch(self, texts: list[str]) -> None:
        ids = [self._ids(t) for t in texts]
        longest = max(len(i) for i in ids)
        # Left padding: every transcript's last token sits at the last position.
        batch = torch.zeros(len(ids), longest, dtype=torch.long)
        mask = torch.zeros(len(ids), longest, dtype=torch.long)
        for row, sequence in enumerate(ids):
            batch[row, longest - len(sequence):] = torch.tensor(sequence)
            mask[row, longest - len(sequence):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        # The decoder's last (normed) hidden state, and the LM head on the last position only:
        # the head over every position and every layer's states would be wasted work.
        hidden = self.lm.get_decoder()(input_ids=batch, attention_mask=mask,
                                       position_ids=positions).last_hidden_state[:, -1].float()
        logits = self.lm.get_output_embeddings()(hidden)
        log_p = torch.log_softmax(logits.float(), -1)[:, self.backbone.end_token_id]
        for text, h, p in zip(texts, hidden, log_p, strict=True):
            self._cache[text] = (h.clone(), float(p))


# The MLP's output projection reads activations with outliers thousands of times their mean
# (SmolLM2-135M: max/mean up to 9,000 at layer 11), which one int8 scale per tensor crushes.
# Kept in fp32, the last hidden state stays at cosine 0.96 to fp32's (0.86 with them quantised)
# for 40 % more time (45 against 32 ms; fp32 97 ms).
FP32_LAYERS = ("down_proj", "fc2")


def _int8_dynamic(lm):
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    quantised = {name: default_dynamic_qconfig for name, module in lm.named_modules()
                 if isinstance(module, nn.Linear) and not name.endswith(FP32_LAYERS)}
    with warnings.catch_warnings():  # torch.ao's deprecation notice; torch is pinned
        warnings.simplefilter("ignore")
        return quantize_dynamic(lm, quantised, dtype=torch.qint8)


def words_only(transcript: str) -> str:
    """The transcript without its closing punctuation: Whisper ends most pieces of speech with
    "." or "?" whether or not the speaker has finished ("What is the tallest mountain in?"),
    so the head must judge by the words."""
    return transcript.strip().rstrip(".?!,;:…- ")


@dataclass(frozen=True)
class Decision:
    state: State
    probabilities: dict[str, float]


@dataclass
class ClassifierConfig:
    # RESPOND wins when its probability reaches this; otherwise the likeliest other state.
    respond_threshold: float = 0.5


class StateClassifier:
    """The frozen reader and a trained head: a transcript in, a decision out."""

    def __init__(self, reader: TextReader, head: StateHead,
                 config: ClassifierConfig | None = None) -> None:
        self.reader = reader
        self.head = head.eval()
        self.config = config or ClassifierConfig()

    @classmethod
    def load(cls, path: str | Path = "", backbone: str = "",
             config: ClassifierConfig | None = None) -> StateClassifier:
        path = Path(path or PACKAGED_HEAD)
        trained_on, _, _ = _read_head_file(path)  # before the backbone's seconds of loading
        reader = TextReader.load(backbone, trained_on.precision)
        return cls(reader, load_head(path, reader.backbone), config)

    @torch.inference_mode()
    def probabilities(self, texts: list[str], speaking: list[bool]) -> np.ndarray:
        hidden, log_p = self.reader.read(texts)
        logits = self.head(hidden, log_p, torch.tensor(speaking))
        return torch.softmax(logits, -1).numpy()

    def decide(self, text: str, assistant_speaking: bool,
               respond_threshold: float | None = None) -> Decision:
        """`respond_threshold`: None takes the classifier's own."""
        if not text.strip():  # nothing was understood: a sound, not words
            return Decision(State.IGNORE, {})
        p = self.probabilities([text], [assistant_speaking])[0]
        if respond_threshold is None:
            respond_threshold = self.config.respond_threshold
        return Decision(decide_state(p, respond_threshold),
                        {s.name.lower(): round(float(p[s]), 4) for s in State})


def decide_state(p: np.ndarray, respond_threshold: float) -> State:
    if p[State.RESPOND] >= respond_threshold:
        return State.RESPOND
    others = [s for s in State if s is not State.RESPOND]
    return max(others, key=lambda s: p[s])


def save_head(head: StateHead, backbone: Backbone, path: Path, extra: dict | None = None) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"backbone": json.dumps(asdict(backbone)), "shape": json.dumps(asdict(head.shape)),
                "states": ",".join(s.name.lower() for s in State),
                "training": json.dumps(extra or {})}
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(path), metadata)


def _read_head_file(path: Path) -> tuple[Backbone, HeadShape, dict[str, torch.Tensor]]:
    """What a head file says: the backbone it was trained on, its shape, its weights."""
    from safetensors import safe_open

    if not path.is_file():
        raise EngineError(f"no state head at {path}")
    try:
        with safe_open(str(path), "pt") as file:
            metadata = file.metadata() or {}
            tensors = {k: file.get_tensor(k) for k in file.keys()}
    except Exception as error:  # safetensors raises its own types for a damaged file
        raise EngineError(f"{path}: not a state head file ({error})") from None
    try:
        trained_on = Backbone(**json.loads(metadata["backbone"]))
        shape = HeadShape(**json.loads(metadata["shape"]))
    except (KeyError, TypeError, ValueError):
        raise EngineError(f"{path}: the file does not say which backbone it was trained on") \
            from None
    if metadata.get("states") != ",".join(s.name.lower() for s in State):
        raise EngineError(f"{path}: its states are {metadata.get('states')!r}, not "
                          f"{','.join(s.name.lower() for s in State)!r}")
    return trained_on, shape, tensors


def load_head(path: str | Path, backbone: Backbone) -> StateHead:
    """A head file, checked against the backbone it will read: what differs is named."""
    path = Path(path)
    trained_on, shape, tensors = _read_head_file(path)
    differences = [f"{field} {getattr(trained_on, field)} (this backbone: "
                   f"{getattr(backbone, field)})"
                   for field in ("hidden_size", "vocab_size", "end_token_id", "precision")
                   if getattr(trained_on, field) != getattr(backbone, field)]
    if differences:
        raise EngineError(f"{path} was trained on backbone {trained_on.name or 'SmolLM2'!r} and "
                          f"does not match this one: {'; '.join(differences)}")
    head = StateHead(shape)
    try:
        head.load_state_dict(tensors)
    except RuntimeError as error:
        raise EngineError(f"{path}: its weights do not fit a {shape} head: {error}") from None
    return head
