"""The functions and SQL value functions a data-source query may call. An allow-list: a function
not named in ``ALLOWED_FUNCTIONS`` is refused; the other sets only name the reason in refusals."""
from __future__ import annotations

# An allow-list: a function not named here is refused. Unqualified or pg_catalog-qualified only.
ALLOWED_FUNCTIONS = frozenset({
    # strings (no repeat/lpad/rpad/format: they inflate a value far beyond their inputs)
    "length", "char_length", "character_length", "octet_length", "bit_length", "lower", "upper", "initcap",
    "btrim", "ltrim", "rtrim", "trim", "substring", "substr", "left", "right", "position", "strpos", "replace",
    "translate", "concat", "concat_ws", "split_part", "starts_with", "reverse", "overlay", "ascii", "chr",
    "md5", "normalize", "is_normalized", "regexp_replace", "regexp_match", "regexp_like", "regexp_count",
    "regexp_substr", "regexp_instr", "to_char", "to_number", "to_hex",
    # numbers
    "abs", "ceil", "ceiling", "floor", "round", "trunc", "mod", "div", "power", "sqrt", "cbrt", "exp", "ln",
    "log", "log10", "sign", "width_bucket", "gcd", "lcm", "scale",
    # dates and times
    "now", "clock_timestamp", "statement_timestamp", "transaction_timestamp", "date_trunc", "date_part",
    "extract", "age", "date_bin", "make_date", "make_time", "make_timestamp", "make_timestamptz",
    "make_interval", "to_date", "to_timestamp", "justify_days", "justify_hours", "justify_interval",
    "isfinite", "timezone", "overlaps",
    # JSON and arrays built from the row (no *_elements / *_each / *_keys: they return sets)
    "to_json", "to_jsonb", "json_build_object", "jsonb_build_object", "json_build_array", "jsonb_build_array",
    "json_extract_path_text", "jsonb_extract_path_text", "json_typeof", "jsonb_typeof", "json_array_length",
    "jsonb_array_length", "array_length", "cardinality", "array_to_string", "array_position",
    # conditionals (coalesce, nullif, greatest and least are expressions, not functions)
    "num_nulls", "num_nonnulls",
    # aggregates
    "count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every", "string_agg", "array_agg",
    "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg", "stddev", "stddev_pop", "stddev_samp",
    "variance", "var_pop", "var_samp", "percentile_cont", "percentile_disc", "mode",
    # window functions
    "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value",
    "last_value", "nth_value",
})
# Named in refusals, so an author learns why (all of them are off the allow-list anyway).
SET_RETURNING = frozenset({
    "generate_series", "generate_subscripts", "unnest", "regexp_matches", "regexp_split_to_table",
    "string_to_table", "json_array_elements", "json_array_elements_text", "jsonb_array_elements",
    "jsonb_array_elements_text", "json_each", "json_each_text", "jsonb_each", "jsonb_each_text",
    "json_object_keys", "jsonb_object_keys", "jsonb_path_query", "json_populate_recordset",
    "jsonb_populate_recordset", "json_to_recordset", "jsonb_to_recordset"})
INFLATING = frozenset({"repeat", "lpad", "rpad", "format", "array_fill"})
# current_date, current_time(stamp), localtime(stamp) are fine; current_user, session_user,
# current_role, user, current_catalog and current_schema describe the database.
DATE_TIME_VALUES = frozenset({"SVFOP_CURRENT_DATE", "SVFOP_CURRENT_TIME", "SVFOP_CURRENT_TIME_N",
                              "SVFOP_CURRENT_TIMESTAMP", "SVFOP_CURRENT_TIMESTAMP_N", "SVFOP_LOCALTIME",
                              "SVFOP_LOCALTIME_N", "SVFOP_LOCALTIMESTAMP", "SVFOP_LOCALTIMESTAMP_N"})
