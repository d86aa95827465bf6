"""Which functions analyst SQL may call.

Two lists, because sqlglot sees two kinds of function:

- Functions sqlglot knows (``exp.Count``, ``exp.DateTrunc``, ~570 classes) are standard,
  side-effect-free SQL that it can also print for Trino; they are allowed unless named in
  ``DENIED_TYPED`` (the few that read files, build tables or describe the server).
- Every other name arrives as ``exp.Anonymous`` and must be in ``ALLOWED_ANONYMOUS``, an
  allow-list of DuckDB's pure scalar, aggregate and window functions. Unknown names are where
  DuckDB keeps its file, settings and SQL-executing functions (``read_text``, ``getenv``,
  ``current_setting``, ``json_execute_serialized_sql``, ``query``...), and new DuckDB releases
  add more, so a deny-list there would always be one release behind.
"""

from __future__ import annotations

from typing import Final

DENIED_TYPED: Final[frozenset[str]] = frozenset(
    {
        # files and table-valued functions
        "ReadCSV",
        "ReadParquet",
        "ToFile",
        "GenerateTable",
        "JSONTable",
        "XMLTable",
        "SplitToTable",
        "StrtokSplitToTable",
        "Secret",
        # the server, its catalogs and sequences
        "CurrentCatalog",
        "CurrentDatabase",
        "CurrentSchema",
        "CurrentSchemas",
        "CurrentUser",
        "CurrentUserId",
        "CurrentOrganizationUser",
        "CurrentVersion",
        "SessionUser",
        "NextValueFor",
    }
)
"""sqlglot function classes (by class name) that are refused although sqlglot knows them."""

_ANONYMOUS = """
abs acos acosh add age any_value arbitrary arg_max arg_max_null arg_min arg_min_null argmax
argmin array_agg array_append array_concat array_contains array_distinct array_extract
array_filter array_has array_has_all array_has_any array_indexof array_intersect array_length
array_position array_prepend array_reverse array_slice array_sort array_to_string
array_transform array_unique array_value ascii asin asinh atan atan2 atanh avg bar base64 bin
bit_and bit_count bit_length bit_or bit_xor bool_and bool_or cardinality cbrt ceil ceiling
century char_length character_length chr coalesce concat concat_ws contains corr cos cosh cot
count count_if countif covar_pop covar_samp cume_dist current_date current_localtimestamp
damerau_levenshtein date_add date_diff date_part date_sub date_trunc datediff datepart datesub
datetrunc day dayname dayofmonth dayofweek dayofyear days_in_month decade degrees dense_rank
editdist3 element_at ends_with entropy epoch epoch_ms epoch_ns epoch_us equi_width_bins era
even exp factorial favg fdiv filter first first_value flatten floor fmod format format_bytes
from_base64 from_hex from_json fsum gamma gcd generate_series geomean geometric_mean
get_current_time get_current_timestamp grade_up greatest hamming hash hex histogram
histogram_exact hour if ifnull instr isfinite isinf isnan isodow isoyear jaccard
jaro_similarity jaro_winkler_similarity json json_array json_array_length json_contains
json_exists json_extract json_extract_path json_extract_path_text json_extract_string
json_group_array json_group_object json_keys json_merge_patch json_object json_quote
json_structure json_transform json_type json_valid json_value kahan_sum kurtosis lag last
last_day last_value lcase lcm lead least left len length length_grapheme levenshtein lgamma
list list_aggregate list_any_value list_append list_apply list_avg list_bool_and list_bool_or
list_concat list_contains list_count list_distinct list_element list_extract list_filter
list_first list_has list_has_all list_has_any list_indexof list_intersect list_last list_max
list_median list_min list_mode list_pack list_position list_prepend list_reduce list_reverse
list_select list_slice list_sort list_string_agg list_sum list_transform list_unique
list_value list_where list_zip listagg ln log log10 log2 lower lpad ltrim mad make_date
make_time make_timestamp make_timestamptz map map_concat map_contains map_entries map_extract
map_from_entries map_keys map_values max max_by md5 mean median microsecond millennium
millisecond min min_by minute mod mode month monthname nanosecond nextafter nfc_normalize
now nth_value ntile nullif octet_length ord percent_rank pi position pow power prefix printf
product quantile quantile_cont quantile_disc quarter radians random range rank reduce
regexp_escape regexp_extract regexp_extract_all regexp_full_match regexp_matches
regexp_replace regexp_split_to_array regr_avgx regr_avgy regr_count regr_intercept regr_r2
regr_slope regr_sxx regr_sxy regr_syy repeat replace reservoir_quantile reverse right round
round_even row row_number rpad rtrim second sem sha1 sha256 sign signbit sin sinh skewness
split split_part sqrt starts_with stddev stddev_pop stddev_samp str_split str_split_regex
strftime string_agg string_split string_split_regex string_to_array strip_accents strlen
strpos strptime struct_extract struct_insert struct_pack substr substring sum sumkahan tan
tanh time_bucket timezone to_base64 to_centuries to_days to_decades to_hex to_hours to_json
to_microseconds to_millennia to_milliseconds to_minutes to_months to_quarters to_seconds
to_timestamp to_weeks to_years today transaction_timestamp translate trim trunc
try_strptime typeof ucase unbin unhex unicode unnest upper url_decode url_encode uuid
uuid_extract_timestamp uuid_extract_version uuidv4 uuidv7 var_pop var_samp variance wavg week
weekday weekofyear weighted_avg xor year yearweek
"""

ALLOWED_ANONYMOUS: Final[frozenset[str]] = frozenset(_ANONYMOUS.split())
"""Lower-case DuckDB function names allowed when sqlglot parses them as ``exp.Anonymous``.

Left out on purpose: settings and variables (``current_setting``, ``getvariable``), the
catalog (``pg_*``, ``has_*_privilege``, ``col_description``, ``current_query``, ``version``),
sequences (``nextval``, ``setval``), SQL execution (``json_execute_serialized_sql``,
``json_deserialize_sql``), sleeping (``sleep_ms``, ``pg_sleep``), logging (``write_log``),
paths (``parse_path``...), aggregate-state plumbing (``finalize``, ``combine``) and the
extension families (``st_*``, ``variant_*``, collations).
"""
