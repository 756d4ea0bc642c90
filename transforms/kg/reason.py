"""One QA pair → one KG reasoning record (pure; no Beam import). **This is where a
``kg_reasoning`` record is built** (``reason_over_kg``).

Steps: link the question's and the answer's entities to graph nodes (``linking``), search the
shortest paths between every question node and every answer node (``graph.shortest_paths``:
bounded length, bounded count, deterministic order), rank them (``rank_paths``), keep the best,
write the chain (``render.render_template``, or an OpenAI-compatible model through
``llm.LlmClient`` for pruning, chain writing and validation), and validate: a record is kept when
some path reaches an answer node and, with a model, when the answer it reads off the chain alone
is the known one. Otherwise the record is returned with the reasons it is rejected.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Callable, Optional

from schemas.records import EntityMapping, KgPath, KgReasoningRecord, Message, PathStep, QAPair
from transforms.kg import graph as kg_graph
from transforms.kg.linking import EntityIndex, LinkSettings, link_entities, normalize
from transforms.kg.render import options_block, path_chain, render_template
from transforms.tasks.common import split_for

TASK = "kg_reasoning"
SYSTEM_PROMPT = ("You are a careful clinician. Reason step by step from medical knowledge, then give "
                 "the answer.")
INSTRUCTION = ("Answer the following medical question. Think through the relevant medical knowledge "
               "step by step, then state the answer as \"Answer: <letter>. <text>\".")

# rejection reasons (RejectedReasoning.reasons)
NO_QUESTION_ENTITY = "qa.no_question_entity"
NO_ANSWER_ENTITY = "qa.no_answer_entity"
NO_PATH = "kg.no_path"
LLM_MISMATCH = "llm.answer_mismatch"
LLM_NO_ANSWER = "llm.no_answer"
LLM_NO_CONCLUSION = "llm.no_conclusion"
LLM_ERROR = "llm.error"


@dataclass(frozen=True)
class ReasonSettings:
    created_at: str
    max_hops: int = 3  # longest path searched (edges)
    max_paths_per_pair: int = 10  # shortest paths enumerated per (question node, answer node)
    keep_paths: int = 5  # paths kept on a record after ranking (or model pruning)
    link: LinkSettings = field(default_factory=LinkSettings)

    def __post_init__(self):
        for name in ("max_hops", "max_paths_per_pair", "keep_paths"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")


@dataclass
class KgResources:
    """What every worker loads once and shares: the graph, its entity index and the encoder."""
    graph: "kg_graph.KnowledgeGraph"
    index: EntityIndex
    encode: Optional[Callable] = None  # list[str] → (n, d) normalised vectors; None = no embedding

    @property
    def kg_label(self) -> str:
        return f"{self.graph.name}@{self.graph.fingerprint}"


def _words_in(text: str) -> str:
    return f" {normalize(text)} "


def find_paths(res: KgResources, entities: list[EntityMapping], settings: ReasonSettings) -> list[list[int]]:
    """Shortest paths (node-index sequences) from every question node to every answer node."""
    g = res.graph
    q_nodes = list(dict.fromkeys(g.index_of(e.node_id) for e in entities if e.role == "question"))
    a_nodes = list(dict.fromkeys(g.index_of(e.node_id) for e in entities if e.role == "answer"))
    paths = []
    for s in q_nodes:
        for t in a_nodes:
            if s != t:
                paths += kg_graph.shortest_paths(g, s, t, max_hops=settings.max_hops,
                                                 max_paths=settings.max_paths_per_pair)
    return paths


def rank_paths(res: KgResources, paths: list[list[int]], context: str, keep: int,
               linked: frozenset = frozenset(), distractors: str = "") -> list[KgPath]:
    """Best ``keep`` paths. A path through another linked node (``linked``: node indices) is
    dropped: the shorter path from that node says the same. Score = intermediate nodes named in
    ``context`` (the question and its abstract: +1 each) − intermediate nodes named in
    ``distractors`` (the wrong options: −1 each, a path through a wrong answer argues for it) − 0.5
    per hop beyond the first − 0.1 × mean log(1 + degree) of the intermediate nodes (hubs explain
    little); ties → fewer hops, then names, then node ids."""
    g = res.graph
    ctx, wrong = _words_in(context), _words_in(distractors)
    scored = []
    for p in paths:
        inner = p[1:-1]
        if any(i in linked for i in inner):
            continue
        names = [f" {normalize(g.node_names[i])} " for i in inner]
        hits = sum(1 for n in names if n in ctx) - sum(1 for n in names if n in wrong)
        hub = sum(math.log1p(g.degree(i)) for i in inner) / len(inner) if inner else 0.0
        score = round(hits - 0.5 * (len(p) - 2) - 0.1 * hub, 4)
        scored.append((-score, len(p), tuple(g.node_names[i] for i in p), tuple(g.node_ids[i] for i in p), p, score))
    scored.sort(key=lambda x: x[:4])
    out = []
    for rank, (_, _, _, _, p, score) in enumerate(scored[:keep], start=1):
        steps = [PathStep(head=g.node_ids[h], head_name=g.node_names[h], relation=g.relations[r],
                          tail=g.node_ids[t], tail_name=g.node_names[t], inverse=bool(inv))
                 for h, r, t, inv in kg_graph.path_steps(g, p)]
        out.append(KgPath(start=g.node_ids[p[0]], end=g.node_ids[p[-1]], steps=steps, rank=rank, score=score))
    return out


def answer_text(qa: QAPair) -> str:
    """The text whose entities are the answer's: the correct option, or for a yes/no/maybe answer
    (PubMedQA) the long answer that states the finding."""
    if qa.answer.strip().lower() in ("yes", "no", "maybe") and qa.explanation:
        return qa.explanation
    return qa.answer


def question_text(qa: QAPair) -> str:
    """The user input of a record: the question, PubMedQA's context, the answer choices."""
    parts = [qa.question]
    if qa.context:
        parts.append(f"Context:\n{qa.context}")
    parts.append(options_block(qa))
    return "\n\n".join(parts)


def reason_over_kg(qa: QAPair, res: KgResources, settings: ReasonSettings,
                   llm=None) -> tuple[KgReasoningRecord, list[str]]:
    """The record of ``qa`` and its rejection reasons (empty = kept).

    ``llm``: an ``llm.LlmClient`` for pruning, chain writing and validation, or None for the
    template renderer. A model that fails after its retries rejects the record (``llm.error``)."""
    entities = link_entities(res.index, qa.question, answer_text(qa), settings.link, encode=res.encode)
    reasons = []
    if not any(e.role == "question" for e in entities):
        reasons.append(NO_QUESTION_ENTITY)
    if not any(e.role == "answer" for e in entities):
        reasons.append(NO_ANSWER_ENTITY)
    raw = find_paths(res, entities, settings) if not reasons else []
    context = " ".join([qa.question, qa.context or ""])
    distractors = " ".join(o.text for o in qa.options if o.label != qa.answer_idx)
    linked = frozenset(res.graph.index_of(e.node_id) for e in entities)
    ranked = rank_paths(res, raw, context, len(raw), linked, distractors)
    if not reasons and not ranked:
        reasons.append(NO_PATH)
    llm_answer = llm_match = None
    if llm is None or reasons:
        paths = _renumber(ranked[:settings.keep_paths])
        reasoning, method = render_template(qa, entities, paths), "template"
    else:
        from transforms.kg import llm as kg_llm
        options = [(o.label, o.text) for o in qa.options]
        question = f"{qa.question}\n\nContext:\n{qa.context}" if qa.context else qa.question
        try:
            paths = ranked[:settings.keep_paths]
            if len(ranked) > settings.keep_paths:
                reply = llm.chat(kg_llm.prune_paths_messages(question, options, qa.answer,
                                                             [path_chain(p) for p in ranked],
                                                             settings.keep_paths), response_format_json=True)
                picked = kg_llm.parse_pruned(reply, len(ranked))[:settings.keep_paths]
                if picked:
                    paths = [ranked[i] for i in picked]
            paths = _renumber(paths)
            reasoning = llm.chat(kg_llm.chain_messages(question, options, [path_chain(p) for p in paths],
                                                      answer=f"{qa.answer_idx}. {qa.answer}")).strip()
            method = "llm"
            reasoning_only = before_conclusion(reasoning)
            if reasoning_only is None:
                reasons.append(LLM_NO_CONCLUSION)
            else:
                reply = llm.chat(kg_llm.answer_messages(question, options, reasoning_only))
                llm_answer = kg_llm.parse_answer_letter(reply, [o.label for o in qa.options])
                llm_match = llm_answer is not None and llm_answer == qa.answer_idx
                if llm_answer is None:
                    reasons.append(LLM_NO_ANSWER)
                elif not llm_match:
                    reasons.append(LLM_MISMATCH)
        except kg_llm.LlmError as e:
            paths = _renumber(ranked[:settings.keep_paths])
            reasoning, method = render_template(qa, entities, paths), "template"
            reasons.append(f"{LLM_ERROR}: {str(e)[:200]}")
    return _record(qa, res, settings, entities, paths, reasoning, method, llm_answer, llm_match), reasons


def _renumber(paths: list[KgPath]) -> list[KgPath]:
    for i, p in enumerate(paths, start=1):
        p.rank = i
    return paths


# a line opening the conclusion: "Conclusion:", "**Conclusion:**", "### Conclusion", "CONCLUSION -"
_CONCLUSION_RE = re.compile(r"^\W*conclusions?\b", re.IGNORECASE | re.MULTILINE)


def before_conclusion(text: str) -> Optional[str]:
    """The chain without its conclusion, so validation answers from the reasoning alone; None when
    no line opens a conclusion (the chain cannot be validated without showing its answer)."""
    found = list(_CONCLUSION_RE.finditer(text))
    return text[:found[-1].start()].rstrip() if found else None


def _record(qa: QAPair, res: KgResources, settings: ReasonSettings, entities, paths, reasoning, method,
            llm_answer, llm_match) -> KgReasoningRecord:
    input_text = question_text(qa)
    label = f"{qa.answer_idx}. " if qa.answer_idx else ""
    output = f"{reasoning}\n\nAnswer: {label}{qa.answer}"
    digest = hashlib.sha256("\x1f".join([TASK, qa.id, res.kg_label, input_text, output]).encode("utf-8"))
    return KgReasoningRecord(
        id=f"{TASK}:{digest.hexdigest()[:24]}", task=TASK, system=SYSTEM_PROMPT, instruction=INSTRUCTION,
        input=input_text, output=output,
        messages=[Message("system", SYSTEM_PROMPT), Message("user", f"{INSTRUCTION}\n\n{input_text}"),
                  Message("assistant", output)],
        split=split_for(normalize(qa.question)), sources=[qa.id, f"kg:{res.graph.name}"],
        source_versions=[f"{qa.source_file}#{qa.source_index}", res.kg_label], created_at=settings.created_at,
        dataset=qa.dataset, qa_id=qa.id, question=qa.question, options=qa.options, answer_idx=qa.answer_idx,
        answer=qa.answer, entities=entities, paths=paths, reasoning=reasoning, reasoning_method=method,
        kg=res.kg_label, answer_reached=any(p.end in {e.node_id for e in entities if e.role == "answer"}
                                            for p in paths),
        validation="paths+llm" if method == "llm" else "paths",
        llm_answer=llm_answer, llm_match=llm_match)
