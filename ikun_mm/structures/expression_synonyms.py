"""Synonym mapping of referring expressions (plurals and synonyms to one canonical text).

Refer-KITTI says the same thing in several words: ``cars-in-red`` and ``vehicles-in-red`` are
two expression files of the same video with the same referred objects. The official iKUN code
(dyhBUPT/iKUN, ``utils.expression_conversion``) gives the model one canonical text for both:
dashes become spaces, ``light color`` becomes the single word ``light-color``, and words are
mapped by a table (cars, vehicles -> car; people, persons -> pedestrian; males -> men;
females -> women; light-colors -> light-color). It trains on the canonical expressions of each
video (synonymous files merged, their positives united), feeds the canonical text to the model
at test time while keeping results keyed by the original expression, and builds the
similarity-calibration table over canonical expressions.

Here the mapping is data (:data:`REFER_KITTI_SYNONYMS`, or any dict) and
:func:`canonical_sentence` applies it. A table maps *phrases* to replacements: a key is one word
or several (written with spaces or dashes, ``'light color'`` = ``'light-color'``), matched on
whole words, longest key first. One deliberate difference from the official conversion, which
replaces the substring ``light color`` anywhere: matching whole words leaves unrelated words
alone (``light colored`` stays as it is); on Refer-KITTI's expressions both agree. Matching is
case-sensitive, as in the official code.

Everything here is plain Python (no torch, no mmengine), with no knowledge of files: the models
(calibration of free-text queries) and the datasets both use it. Merging the expressions of a
video is the datasets' (:func:`ikun_mm.datasets.merge_synonymous_expressions`).
"""
from functools import lru_cache
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

#: Refer-KITTI's synonyms, as in the official iKUN code (``WORDS_MAPPING`` plus its
#: ``light color`` -> ``light-color`` joining). Refer-KITTI-V2 and Refer-Dance use the same words.
REFER_KITTI_SYNONYMS: Dict[str, str] = {
    'cars': 'car',
    'vehicles': 'car',
    'people': 'pedestrian',
    'persons': 'pedestrian',
    'males': 'men',
    'females': 'women',
    'light color': 'light-color',
    'light colors': 'light-color',
}

#: Named tables accepted wherever a ``synonyms`` option takes a string.
SYNONYM_TABLES: Dict[str, Dict[str, str]] = {'refer_kitti': REFER_KITTI_SYNONYMS}

Synonyms = Union[None, str, Mapping[str, str]]


def _words(text: str) -> Tuple[str, ...]:
    return tuple(text.replace('-', ' ').split())


@lru_cache(maxsize=32)
def _compile(items: Tuple[Tuple[str, str], ...]) -> Tuple[int, Dict[Tuple[str, ...], str]]:
    """``(longest key length in words, {key words: replacement})``."""
    phrases: Dict[Tuple[str, ...], str] = {}
    for key, value in items:
        words = _words(key)
        if not words:
            raise ValueError(f'synonym table: empty key {key!r}')
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f'synonym table: key {key!r} maps to an empty text {value!r}')
        if words in phrases and phrases[words] != value.strip():
            raise ValueError(f'synonym table: {key!r} maps to both {phrases[words]!r} and '
                             f'{value!r} (keys are compared with dashes read as spaces)')
        phrases[words] = value.strip()
    longest = max((len(w) for w in phrases), default=0)
    return longest, phrases


def _apply(sentence: str, longest: int, phrases: Dict[Tuple[str, ...], str]) -> str:
    words = _words(sentence)
    out: List[str] = []
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            replacement = phrases.get(words[i:i + n])
            if replacement is not None:
                out.append(replacement)
                i += n
                break
        else:
            out.append(words[i])
            i += 1
    return ' '.join(out)


def resolve_synonyms(synonyms: Synonyms) -> Optional[Dict[str, str]]:
    """The table of a ``synonyms`` option: ``None`` (off), a name of :data:`SYNONYM_TABLES`
    (``'refer_kitti'``) or a dict ``{phrase: replacement}``.

    Raises:
        KeyError: unknown table name.
        ValueError: a malformed table, or one that is not a fixed point (a replacement that the
            table would map again, e.g. ``{'cars': 'car', 'car': 'auto'}``): canonical texts must
            stay canonical when mapped again.

    A replacement written with dashes (``'light-color'``) is one word: the returned table also
    joins its words wherever they appear (``'light color' -> 'light-color'``), which keeps
    :func:`canonical_sentence` idempotent although it reads dashes as spaces.
    """
    if synonyms is None:
        return None
    if isinstance(synonyms, str):
        if synonyms not in SYNONYM_TABLES:
            raise KeyError(f'unknown synonym table {synonyms!r}; known: {sorted(SYNONYM_TABLES)} '
                           'or give a dict {phrase: replacement}')
        items = SYNONYM_TABLES[synonyms].items()
    elif isinstance(synonyms, Mapping):
        items = synonyms.items()
    else:
        raise TypeError(f'synonyms must be None, a table name or a dict, got {type(synonyms)}')
    return dict(_checked(tuple(sorted((str(k), v) for k, v in items))))


@lru_cache(maxsize=32)
def _checked(items: Tuple[Tuple[str, str], ...]) -> Tuple[Tuple[str, str], ...]:
    table = {k: v.strip() if isinstance(v, str) else v for k, v in items}
    for value in set(table.values()):
        if isinstance(value, str) and '-' in value:
            # a replacement written with dashes is one word: join its words wherever they
            # appear, so that canonical texts map to themselves
            table.setdefault(' '.join(_words(value)), value)
    longest, phrases = _compile(tuple(sorted(table.items())))
    for value in set(phrases.values()):
        again = _apply(value, longest, phrases)
        if again != value:
            raise ValueError(f'synonym table: replacement {value!r} is mapped again to '
                             f'{again!r}; map every key to its final text')
    return tuple(sorted(table.items()))


def canonical_sentence(sentence: str, synonyms: Synonyms) -> str:
    """The canonical text of an expression.

    Dashes are read as spaces (file names and sentences alike), whitespace is collapsed, and
    phrases of the table are replaced (whole words, longest first). Idempotent:
    ``canonical_sentence(canonical_sentence(s)) == canonical_sentence(s)``. ``synonyms=None``
    returns ``sentence`` unchanged.

    Examples (Refer-KITTI table)::

        'cars-in-light-color'                     -> 'car in light-color'
        'left-vehicles-which-are-in-light-colors' -> 'left car which are in light-color'
        'females back to the camera'              -> 'women back to the camera'
    """
    table = resolve_synonyms(synonyms)
    if table is None:
        return sentence
    longest, phrases = _compile(tuple(sorted(table.items())))
    return _apply(sentence, longest, phrases)


def canonical_groups(sentences: Sequence[str], synonyms: Synonyms) -> Dict[str, List[str]]:
    """``{canonical text: [the sentences that map to it, in input order]}``, keys sorted."""
    groups: Dict[str, List[str]] = {}
    for s in sentences:
        groups.setdefault(canonical_sentence(s, synonyms), []).append(s)
    return dict(sorted(groups.items()))
