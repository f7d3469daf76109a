"""The turn-taking states (no torch here: the session compares them without loading a model).

Freeze-Omni's three, plus Mini-Omni2's stop command as a fourth.
"""

from __future__ import annotations

import enum


class State(enum.IntEnum):
    LISTEN = 0  # the user's turn goes on
    RESPOND = 1  # the turn is over: answer it, or interrupt the reply to answer it
    IGNORE = 2  # noise or a backchannel: no answer, a reply keeps playing
    STOP = 3  # a stop command: end the reply, start none
