"""Docker's container names and ids (pure): a name is ``/name`` with ``name`` matching
``[a-zA-Z0-9][a-zA-Z0-9_.-]+``; a container without one gets ``adjective_name`` as
Docker's namesgenerator makes them; a reference to a container is its id, its name (with
or without the slash) or a unique prefix of its id."""

from __future__ import annotations

import re
import secrets

from estiba import errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

# a few of moby's pkg/namesgenerator words
ADJECTIVES = (
    "admiring", "adoring", "agitated", "amazing", "angry", "awesome", "blissful", "bold",
    "brave", "charming", "clever", "cool", "compassionate", "competent", "dazzling",
    "determined", "eager", "ecstatic", "elastic", "elegant", "epic", "focused", "friendly",
    "gallant", "gifted", "goofy", "happy", "hopeful", "infallible", "inspiring", "jolly",
    "keen", "kind", "laughing", "loving", "lucid", "magical", "modest", "musing", "nifty",
    "nostalgic", "optimistic", "peaceful", "pensive", "practical", "quirky", "relaxed",
    "romantic", "serene", "sharp", "stoic", "sweet", "tender", "trusting", "upbeat",
    "vibrant", "vigilant", "wizardly", "wonderful", "youthful", "zealous", "zen",
)
SURNAMES = (
    "agnesi", "albattani", "allen", "almeida", "archimedes", "babbage", "banach",
    "bardeen", "bartik", "bell", "bhabha", "booth", "borg", "bose", "brahmagupta",
    "cannon", "carson", "cerf", "chandrasekhar", "curie", "darwin", "dijkstra", "einstein",
    "euclid", "euler", "fermat", "feynman", "galileo", "gauss", "goldberg", "goodall",
    "hamilton", "hopper", "hypatia", "jennings", "kepler", "knuth", "lamarr", "lovelace",
    "mayer", "mccarthy", "meitner", "newton", "noether", "pascal", "ritchie", "shannon",
    "tesla", "thompson", "torvalds", "turing", "wilson", "wozniak", "wright", "yonath",
)


def check_name(name: str) -> str:
    """``/name`` of a valid name given with or without the slash; InvalidArgument else."""
    if not _NAME.match(name):
        raise errors.InvalidArgument(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return "/" + name.lstrip("/")


def random_name(taken: Iterable[str] = ()) -> str:
    """``/adjective_surname`` not in ``taken`` (``/name`` forms), with a digit added
    after a few clashes, as Docker does."""
    taken = set(taken)
    for attempt in range(20):
        name = f"/{secrets.choice(ADJECTIVES)}_{secrets.choice(SURNAMES)}"
        if attempt >= 3:
            name += str(secrets.randbelow(10))
        if name not in taken:
            return name
    return f"/{secrets.choice(ADJECTIVES)}_{secrets.token_hex(4)}"


def resolve(ref: str, names: dict[str, str]) -> str:
    """The id ``ref`` names among ``names`` (id -> ``/name``): a full id, a name, or a
    unique id prefix (as Docker tries them); NotFound or InvalidArgument (ambiguous)."""
    if ref in names:
        return ref
    wanted = "/" + ref.lstrip("/")
    for cid, name in names.items():
        if name == wanted:
            return cid
    matches = [cid for cid in names if cid.startswith(ref)] if ref else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise errors.InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
    raise errors.NotFound(f"No such container: {ref}")
