"""Entity linking: mentions in a QA pair → KG nodes (pure; no Beam import).

Order of methods, each recording how a mapping was made (``EntityMapping.method``, ``score``):

1. ``exact``: the normalised mention equals the normalised name of a node;
2. ``synonym``: it equals a normalised synonym of a node (from a synonym table);
3. ``embedding``: cosine similarity between the mention and the node names with a sentence
   encoder (``transforms.kg.embedding``), accepted at or above a threshold.

Normalisation (``normalize``): Unicode NFKC, lower case, possessive ``'s`` dropped, every run of
non-alphanumeric characters one space, each word of more than four letters singularised
(``diseases`` → ``disease``, ``arteries`` → ``artery``). Short all-capital names (gene symbols such
as ``CAT`` or ``WAS``) match only when the text spells them the same way, case included, so that
common words do not become genes.

Question mentions are found by a greedy longest match of word n-grams against the name and
synonym tables; the answer (the correct option's text, or a long answer's text) is matched as a whole by name or
synonym, then (when short) as a whole by embedding, then by its contained mentions. Question phrases left unmatched can be linked by
embedding too (``max_question_spans``).
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import numpy as np

from schemas.records import EntityMapping
from transforms.kg.embedding import cosine_top_k

_WORD_RE = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)
_NON_ALNUM_RE = re.compile(r"[\W_]+", re.UNICODE)
_POSSESSIVE_RE = re.compile(r"(\w)['’]s\b")
MAX_NGRAM = 8
SHORT_SYMBOL_LEN = 5
SHORT_ANSWER_WORDS = 6  # answers up to this many words are also matched whole by embedding

# words that are never a mention on their own, whatever the graph calls a node
STOPWORDS = frozenset("""
a an the of and or in on at to for with without by from as is are was were be been being this that
these those which who whom whose what when where why how it its he she his her they them their we
our you your i me my not no yes all any each other some such than then there here into onto over
under after before during between while most more less least few many much very can could may might
must shall should will would do does did done has have had having patient patients year years old
man woman men women boy girl child children male female following most likely best next step
cause causes caused effect effects finding findings history present presents presented examination
shows showed show test tests result results diagnosis treatment therapy day days week weeks month
months hour hours time level levels normal increased decreased high low left right one two three
disease diseases disorder disorders syndrome condition death
""".split())


def normalize(text: str) -> str:
    """The form names and mentions are compared in (see the module docstring)."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = _POSSESSIVE_RE.sub(r"\1", t)
    words = _NON_ALNUM_RE.sub(" ", t).split()
    return " ".join(_singular(w) for w in words)


def _singular(w: str) -> str:
    if len(w) <= 4 or not w.isalpha():
        return w
    if w.endswith("ies"):
        return w[:-3] + "y"
    if w.endswith(("sses", "xes", "ches", "shes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is", "os", "as")):
        return w[:-1]
    return w


def _is_short_symbol(name: str) -> bool:
    compact = name.replace("-", "")
    return 2 <= len(compact) <= SHORT_SYMBOL_LEN and compact.isalnum() and compact.upper() == compact \
        and any(c.isalpha() for c in compact)


def read_synonyms(data: str) -> list[tuple[str, str]]:
    """A synonym table (TSV ``node_id<TAB>synonym``, ``#`` comments, optional header
    ``node_id	synonym``) → (node_id, synonym) pairs."""
    pairs = []
    for row in csv.reader(io.StringIO(data), delimiter="\t"):
        if not row or row[0].startswith("#") or (row[0] == "node_id" and row[1:2] == ["synonym"]):
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise ValueError(f"synonym table line {row!r}: expected node_id<TAB>synonym")
        pairs.append((row[0].strip(), row[1].strip()))
    return pairs


@dataclass
class LinkSettings:
    threshold: float = 0.80  # minimum cosine similarity of an embedding match
    max_nodes_per_mention: int = 3  # nodes sharing one normalised name: the first N by node id
    max_question_spans: int = 6  # unmatched question phrases tried by embedding (0 = none)
    embed_answers: bool = True


@dataclass
class Mention:
    start: int
    end: int
    text: str
    nodes: list[int]
    method: str  # exact | synonym


@dataclass
class EntityIndex:
    """Name and synonym tables of one graph, and (optionally) the node-name embeddings.

    ``names``/``synonyms``: normalised text → node indices (ascending). ``case_sensitive``: node
    indices whose name is a short symbol, matched only when spelled identically."""
    node_ids: Sequence[str]
    node_names: Sequence[str]
    node_types: Sequence[Optional[str]]
    names: dict[str, list[int]]
    synonyms: dict[str, list[int]]
    case_sensitive: dict[str, list[int]] = field(default_factory=dict)
    max_ngram: int = MAX_NGRAM
    embeddings: Optional[np.ndarray] = None  # (num_nodes or len(embedded), d), L2-normalised
    embedded_nodes: Optional[np.ndarray] = None  # node indices of the rows of ``embeddings``

    @classmethod
    def build(cls, node_ids: Sequence[str], node_names: Sequence[str], node_types: Sequence[Optional[str]],
              synonyms: Iterable[tuple[str, str]] = ()) -> "EntityIndex":
        names: dict[str, list[int]] = {}
        case_sensitive: dict[str, list[int]] = {}
        longest = 1
        for i, name in enumerate(node_names):
            if not name or len(name.replace("-", "")) < 2:  # one-letter names (gene "T") match anything
                continue
            if _is_short_symbol(name):
                case_sensitive.setdefault(name, []).append(i)
                continue
            key = normalize(name)
            if not key or key in STOPWORDS:
                continue
            names.setdefault(key, []).append(i)
            longest = max(longest, key.count(" ") + 1)
        index_of = {nid: i for i, nid in enumerate(node_ids)}
        syn: dict[str, list[int]] = {}
        unknown = []
        for node_id, text in synonyms:
            i = index_of.get(node_id)
            if i is None:
                unknown.append(node_id)
                continue
            key = normalize(text)
            if key and key not in STOPWORDS and i not in syn.get(key, ()):
                syn.setdefault(key, []).append(i)
                longest = max(longest, key.count(" ") + 1)
        if unknown:
            raise ValueError(f"synonym table names {len(unknown)} node id(s) not in the graph, e.g. "
                             f"{sorted(unknown)[:3]}")
        for table in (names, syn, case_sensitive):
            for k in table:
                table[k] = sorted(set(table[k]))
        return cls(node_ids, node_names, node_types, names, syn, case_sensitive, min(longest, MAX_NGRAM))

    # ------------------------------------------------------------------ dictionary matching
    def lookup(self, text: str) -> tuple[list[int], Optional[str]]:
        """Nodes whose name (else synonym) equals ``text`` after normalisation, and the method."""
        if text in self.case_sensitive:
            return self.case_sensitive[text], "exact"
        key = normalize(text)
        if key in self.names:
            return self.names[key], "exact"
        if key in self.synonyms:
            return self.synonyms[key], "synonym"
        return [], None

    def mentions(self, text: str) -> list[Mention]:
        """Longest non-overlapping dictionary matches in ``text``, left to right."""
        words = [(m.start(), m.end()) for m in _WORD_RE.finditer(text)]
        # normalisation works word by word, so an n-gram's key is the join of its words' keys
        keys = [normalize(text[s:e]) for s, e in words]
        out, i = [], 0
        while i < len(words):
            found = None
            for n in range(min(self.max_ngram, len(words) - i), 0, -1):
                start, end = words[i][0], words[i + n - 1][1]
                span = text[start:end]
                if n == 1:
                    if span in self.case_sensitive:
                        found = Mention(start, end, span, self.case_sensitive[span], "exact")
                        break
                    if keys[i] in STOPWORDS:
                        break
                key = " ".join(keys[i:i + n])
                nodes, method = self.names.get(key), "exact"
                if nodes is None:
                    nodes, method = self.synonyms.get(key), "synonym"
                if nodes:
                    found = Mention(start, end, span, nodes, method)
                    break
            if found:
                out.append(found)
                i += _word_count(words, i, found.end)
            else:
                i += 1
        return out

    # ------------------------------------------------------------------ embedding matching
    def nearest(self, vectors: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(node indices, cosine scores), each (len(vectors), k), best first; ties → lower index."""
        if self.embeddings is None:
            raise ValueError("no node embeddings in this index")
        rows, scores = cosine_top_k(vectors, self.embeddings, k)
        return self.embedded_nodes[rows], scores


def _word_count(words: list[tuple[int, int]], i: int, end: int) -> int:
    n = 1
    while i + n < len(words) and words[i + n][1] <= end:
        n += 1
    return n


def candidate_phrases(text: str, taken: list[tuple[int, int]], limit: int) -> list[tuple[int, int, str]]:
    """Unmatched content phrases of ``text`` (runs of up to four words outside ``taken`` spans that
    are neither stop words nor hold a digit, such as "55-year-old" or "120/80"), longest first
    then left to right, at most ``limit``."""
    if limit <= 0:
        return []
    runs, current = [], []
    for m in _WORD_RE.finditer(text):
        inside = any(s <= m.start() < e for s, e in taken)
        if inside or normalize(m.group()) in STOPWORDS or any(c.isdigit() for c in m.group()):
            if current:
                runs.append(current)
            current = []
            continue
        current.append((m.start(), m.end()))
        if len(current) == 4:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    phrases = [(r[0][0], r[-1][1], text[r[0][0]:r[-1][1]]) for r in runs]
    phrases = [p for p in phrases if len(p[2]) >= 4]
    phrases.sort(key=lambda p: (-(p[1] - p[0]), p[0]))
    return phrases[:limit]


def _mappings(index: EntityIndex, role: str, mention: str, nodes: list[int], method: str, score: float,
              limit: int) -> list[EntityMapping]:
    return [EntityMapping(role=role, mention=mention, node_id=index.node_ids[i], node_name=index.node_names[i],
                          node_type=index.node_types[i] or None, method=method, score=round(float(score), 4))
            for i in nodes[:limit]]


def link_entities(index: EntityIndex, question: str, answer: str, settings: LinkSettings,
                  encode=None) -> list[EntityMapping]:
    """Entity mappings of a QA pair: question mentions (role ``question``) and answer mentions
    (role ``answer``), in text order, each node once per role.

    ``encode``: list[str] → (n, d) L2-normalised vectors, or None to skip embedding matches."""
    limit = settings.max_nodes_per_mention
    use_embedding = encode is not None and index.embeddings is not None

    # answer: the whole text by name or synonym; then, for a short answer (an option), the whole
    # text by embedding, since a contained mention may name something else ("Deficiency of
    # vitamin B12" contains the drug "vitamin B12"); then every contained mention
    answer_maps: list[EntityMapping] = []
    text = answer.strip()
    nodes, method = index.lookup(text.rstrip("."))
    if nodes:
        answer_maps = _mappings(index, "answer", text, nodes, method, 1.0, limit)
    if not answer_maps and use_embedding and settings.embed_answers and text \
            and len(_WORD_RE.findall(text)) <= SHORT_ANSWER_WORDS:
        ids, scores = index.nearest(encode([text]), k=limit)
        answer_maps = [_mappings(index, "answer", text, [int(i)], "embedding", s, 1)[0]
                       for i, s in zip(ids[0], scores[0]) if s >= settings.threshold]
    if not answer_maps:
        for m in index.mentions(text):
            answer_maps += _mappings(index, "answer", m.text, m.nodes, m.method, 1.0, limit)

    # question: dictionary mentions, then unmatched phrases by embedding
    found = index.mentions(question)
    entries: list[tuple[int, EntityMapping]] = []
    for m in found:
        for em in _mappings(index, "question", m.text, m.nodes, m.method, 1.0, limit):
            entries.append((m.start, em))
    if use_embedding and settings.max_question_spans > 0:
        phrases = candidate_phrases(question, [(m.start, m.end) for m in found], settings.max_question_spans)
        if phrases:
            ids, scores = index.nearest(encode([p[2] for p in phrases]), k=1)
            for (start, _end, text), i, s in zip(phrases, ids[:, 0], scores[:, 0]):
                if s >= settings.threshold:
                    entries.append((start, _mappings(index, "question", text, [int(i)], "embedding", s, 1)[0]))
    entries.sort(key=lambda e: e[0])
    question_maps = _first_per_node([em for _, em in entries])
    answer_maps = _first_per_node(answer_maps)
    # a node on both sides would make a zero-length path: it stays on the answer side when the
    # answer has nothing else (an option naming what the question names), else on the question side
    q_ids = {m.node_id for m in question_maps}
    a_only = [m for m in answer_maps if m.node_id not in q_ids]
    if a_only:
        answer_maps = a_only
    else:
        a_ids = {m.node_id for m in answer_maps}
        question_maps = [m for m in question_maps if m.node_id not in a_ids]
    return question_maps + answer_maps


def _first_per_node(maps: list[EntityMapping]) -> list[EntityMapping]:
    seen: set[str] = set()
    out = []
    for m in maps:
        if m.node_id not in seen:
            seen.add(m.node_id)
            out.append(m)
    return out
