"""The API's JSON request parser: orjson, whose depth limit refuses deeply nested bodies as a 400."""

import orjson
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class OrjsonParser(JSONParser):
    """Parses JSON bodies with orjson.

    The standard library's recursive parser raises RecursionError (a 500) on a body such as
    `{"a":{"a":…}}` nested 100,000 deep; orjson stops at 1024 levels with a decode error.
    Like DRF's strict default, it refuses NaN and Infinity.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            body = stream.read()
            # orjson reads UTF-8 bytes; a body declared in another charset is decoded first.
            return orjson.loads(body if encoding.lower() in {"utf-8", "utf8"} else body.decode(encoding))
        except (ValueError, LookupError) as error:
            raise ParseError(f"JSON parse error - {error}") from error
