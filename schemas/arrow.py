"""Parquet (pyarrow) schemas derived from the dataclasses of ``schemas.records``.

``arrow_schema(Trial)`` maps ``str``→string, ``int``→int64, ``float``→float64, ``bool``→bool,
``list[X]``→list<X>, a nested dataclass→struct; ``Optional`` fields are nullable.
``to_row(obj)`` turns a record into the plain dict Beam's ``WriteToParquet`` expects.
Pure module: no Beam import.
"""
from __future__ import annotations

import dataclasses
import functools
import sys
import types
import typing
from typing import Any

import pyarrow as pa

_SCALARS = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}


def optional_inner(tp: Any) -> Any:
    """``X`` for ``Optional[X]`` (either spelling); ``None`` when ``tp`` is not a union; a
    ``TypeError`` for a union of several types (records never have one)."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or (sys.version_info >= (3, 10) and origin is types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {tp!r}")
        return args[0]
    return None


def _arrow_type(tp: Any) -> pa.DataType:
    inner = optional_inner(tp)
    if inner is not None:
        return _arrow_type(inner)
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        return pa.list_(_arrow_type(item))
    if dataclasses.is_dataclass(tp):
        return pa.struct(_fields(tp))
    if tp in _SCALARS:
        return _SCALARS[tp]
    raise TypeError(f"unsupported field type {tp!r}")


def _fields(cls) -> list[pa.Field]:
    hints = typing.get_type_hints(cls)
    return [pa.field(f.name, _arrow_type(hints[f.name])) for f in dataclasses.fields(cls)]


@functools.lru_cache(maxsize=None)
def arrow_schema(cls) -> pa.Schema:
    """The pyarrow schema of a record dataclass."""
    return pa.schema(_fields(cls))


def _value_converter(tp: Any):
    """A function turning a field value of type ``tp`` into plain Python values, or None when the
    value is already plain (scalars and lists of scalars are shared, not copied)."""
    inner = optional_inner(tp)
    if inner is not None:
        conv = _value_converter(inner)
        return None if conv is None else (lambda v: None if v is None else conv(v))
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        conv = _value_converter(item)
        return None if conv is None else (lambda v: None if v is None else [conv(x) for x in v])
    if dataclasses.is_dataclass(tp):
        return _row_converter(tp)
    return None


@functools.lru_cache(maxsize=None)
def _row_converter(cls):
    hints = typing.get_type_hints(cls)
    plan = tuple((f.name, _value_converter(hints[f.name])) for f in dataclasses.fields(cls))

    def convert(obj) -> dict:
        return {name: getattr(obj, name) if conv is None else conv(getattr(obj, name)) for name, conv in plan}
    return convert


def to_row(record) -> dict:
    """A record dataclass as a dict of plain Python values (nested dataclasses become dicts).

    Same result as ``dataclasses.asdict`` for the record types (whose fields are scalars, lists
    and nested records), without its deep copies: lists of scalars are shared with the record.
    """
    return _row_converter(type(record))(record)


def from_row(cls, row: dict):
    """Inverse of ``to_row``: rebuild a record dataclass (nested ones included) from a dict."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        kwargs[f.name] = _from_value(hints[f.name], row.get(f.name))
    return cls(**kwargs)


def _from_value(tp, value):
    if value is None:
        return None
    inner = optional_inner(tp)
    if inner is not None:
        return _from_value(inner, value)
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_from_value(item, v) for v in value]
    if dataclasses.is_dataclass(tp):
        return from_row(tp, value)
    return value
