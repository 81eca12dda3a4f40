"""The API's JSON request parser: orjson, with a nesting limit that refuses deep bodies as a 400."""

import orjson
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Our deepest body is a list of detections with a box (3 levels). Python's own limit is not
# enough: the standard parser recurses once per level (RecursionError past ~1000), and so do
# repr() and str() of a parsed value, which DRF fields call on input they refuse — orjson
# alone stops only at 1024 levels.
JSON_MAX_DEPTH = 32


class JSONTooDeep(ValueError):
    """The JSON text nests arrays and objects deeper than JSON_MAX_DEPTH."""


def json_loads(text: bytes | str):
    """Parse JSON text (UTF-8 bytes or str); ValueError if it is not JSON or nests too deep."""
    value = orjson.loads(text)
    # Iterative, so that the check itself cannot recurse: (container, its depth) pairs.
    pending = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        container, depth = pending.pop()
        if depth > JSON_MAX_DEPTH:
            raise JSONTooDeep(f"nested deeper than {JSON_MAX_DEPTH} levels")
        children = container.values() if isinstance(container, dict) else container
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return value


class OrjsonParser(JSONParser):
    """Parses JSON bodies with orjson and `json_loads`'s nesting limit.

    The standard library's recursive parser raises RecursionError (a 500) on a body such as
    `{"a":{"a":…}}` nested 100,000 deep. Like DRF's strict default, NaN and Infinity are refused.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            body = stream.read()
            # orjson reads UTF-8 bytes; a body declared in another charset is decoded first.
            return json_loads(body if encoding.lower() in {"utf-8", "utf8"} else body.decode(encoding))
        except (ValueError, LookupError) as error:
            raise ParseError(f"JSON parse error - {error}") from error
