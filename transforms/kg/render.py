"""Reasoning text from KG paths: the deterministic template renderer (pure; no Beam import).

The layout follows MedReason's chains: ``Finding reasoning paths:`` (the paths as name chains),
``Reasoning Process:`` (one sentence per distinct KG fact on the paths, in the KG's own
direction, then how the facts connect the question to the answer) and ``Conclusion:``.
"""
from __future__ import annotations

from schemas.records import EntityMapping, KgPath, QAPair

# relation labels (PrimeKG display_relation, Hetionet edge kinds) → verb phrases
VERBS = {
    "indication": "is indicated for", "contraindication": "is contraindicated in",
    "off-label use": "is used off-label for", "phenotype present": "presents with",
    "phenotype absent": "does not present with", "side effect": "has the side effect",
    "associated with": "is associated with", "interacts with": "interacts with", "ppi": "interacts with",
    "parent-child": "is a parent term of", "target": "targets", "enzyme": "is metabolised by",
    "transporter": "is transported by", "carrier": "is carried by", "synergistic interaction":
    "acts synergistically with", "expression present": "is expressed in", "expression absent":
    "is not expressed in", "linked to": "is linked to", "treats": "treats", "palliates": "palliates",
    "causes": "causes", "presents": "presents with", "associates": "is associated with", "binds": "binds",
    "upregulates": "upregulates", "downregulates": "downregulates", "expresses": "expresses",
    "localizes": "localizes to", "resembles": "resembles", "includes": "includes",
    "interacts": "interacts with", "participates": "participates in", "regulates": "regulates",
    "covaries": "covaries with",
}


def verb(relation: str) -> str:
    """The verb phrase of a relation label; unknown labels read as ``has relation "<label>" with``."""
    key = relation.strip().lower().replace("_", " ")
    return VERBS.get(key, f'has relation "{relation}" with')


def path_chain(path: KgPath) -> str:
    """``a -> b -> c`` (node names along the path), MedReason's path notation."""
    names = [path.steps[0].head_name] + [s.tail_name for s in path.steps]
    return " -> ".join(names)


def fact(step) -> str:
    """The KG fact behind a step, in the edge's own direction."""
    head, tail = (step.tail_name, step.head_name) if step.inverse else (step.head_name, step.tail_name)
    return f"{head} {verb(step.relation)} {tail}."


def options_block(qa: QAPair) -> str:
    return "Answer Choices:\n" + "\n".join(f"{o.label}. {o.text}" for o in qa.options)


def render_template(qa: QAPair, entities: list[EntityMapping], paths: list[KgPath]) -> str:
    """The reasoning text of a QA pair from its ranked paths (empty ``paths`` → a text that says no
    path was found)."""
    q_names = list(dict.fromkeys(e.node_name for e in entities if e.role == "question"))
    a_names = list(dict.fromkeys(e.node_name for e in entities if e.role == "answer"))
    lines = ["Finding reasoning paths:"]
    if not paths:
        lines.append("No reasoning path connects the entities of the question to the answer.")
    lines += [f"{p.rank}. {path_chain(p)}" for p in paths]
    lines += ["", "Reasoning Process:"]
    if q_names:
        lines.append(f"The question involves {_join(q_names)}.")
    facts = list(dict.fromkeys(fact(s) for p in paths for s in p.steps))
    lines += [f"- {f}" for f in facts]
    for p in paths:
        start, end = p.steps[0].head_name, p.steps[-1].tail_name
        via = [s.tail_name for s in p.steps[:-1]]
        how = f" through {_join(via)}" if via else " directly"
        lines.append(f"These facts connect {start} to {end}{how}.")
    if a_names:
        lines.append(f"Taken together, the evidence points to {_join(a_names)}.")
    lines += ["", "Conclusion:"]
    label = f"{qa.answer_idx}. " if qa.answer_idx else ""
    lines.append(f"The answer is {label}{qa.answer}")
    return "\n".join(lines)


def _join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
