#!/usr/bin/env python3
"""Writes tests/velocity/corpus.txt: the templates and session contexts the
differential test renders with Apache Velocity 1.7 and with Agentry.

Edit the cases here and run `python3 tests/velocity/make_corpus.py`; both
files are committed. A case is (name, template[, context]); a deliberate
difference adds `differs=(reason, expected Agentry output or ERROR)`.
"""
import json
import os

CTX = {
    "session": {
        "user": {"name": "Ada", "tier": "gold", "age": 36, "tags": ["a", "b"],
                 "address": {"city": "Zürich", "zip": "8001"}},
        "priority": "high",
        "count": 3, "zero": 0, "neg": -7, "big": 9007199254740993,
        "ratio": 0.1, "whole": 2.0, "huge": 1e10, "tiny": 1e-5, "hundred": 100.0,
        "yes": True, "no": False, "empty": "", "space": " ",
        "five": 5, "five_s": "5", "five_d": 5.0,
        "items": ["x", "y", "z"], "nums": [3, 1, 2], "none": [],
        "nested": [[1, 2], [3]], "objs": [{"id": 1, "n": "one"}, {"id": 2, "n": "two"}],
        "map": {"k1": "v1", "k2": "v2"}, "emptymap": {},
        "unicode": "héllo wörld ✓", "quote": "say \"hi\"", "dollar": "$5",
        "hash": "#x", "multi": "line1\nline2",
    },
    "agent": {"name": "Support", "key": "agt_support", "metadata": {"dept": "cs", "level": 2}},
    "currentDate": "2026-11-22",
    "tools": [{"id": "tol_search", "name": "Search"}, {"id": "tol_calc", "name": "Calc"}],
}

CASES = []


def case(name, template, context=None, differs=None):
    CASES.append((name, template, CTX if context is None else context, differs))


# ---- references ------------------------------------------------------------
refs = {
    "ref_simple": "Hello $session.priority!",
    "ref_formal": "Hello ${session.priority}!",
    "ref_formal_glued": "${session.priority}ness",
    "ref_informal_glued_word": "$session.priorityness",
    "ref_nested": "City: $session.user.address.city",
    "ref_nested_formal": "City: ${session.user.address.city}.",
    "ref_top_level": "$currentDate",
    "ref_agent": "$agent.name ($agent.key) $agent.metadata.dept",
    "ref_undefined": "Missing: $nothing here",
    "ref_undefined_formal": "Missing: ${nothing} here",
    "ref_undefined_prop": "Missing: $session.user.nothing end",
    "ref_undefined_deep": "Missing: $session.nothing.deeper end",
    "ref_undefined_formal_prop": "Missing: ${session.user.nothing} end",
    "ref_quiet_undefined": "[$!nothing]",
    "ref_quiet_formal_undefined": "[$!{nothing}]",
    "ref_quiet_defined": "[$!session.priority]",
    "ref_quiet_formal_defined": "[$!{session.priority}]",
    "ref_quiet_prop_undefined": "[$!session.user.nothing]",
    "ref_prop_on_string": "[$session.priority.length]",
    "ref_prop_on_number": "[$session.count.value]",
    "ref_int": "$session.count $session.zero $session.neg",
    "ref_long": "$session.big",
    "ref_double_tenth": "$session.ratio",
    "ref_double_whole": "$session.whole",
    "ref_double_huge": "$session.huge",
    "ref_double_tiny": "$session.tiny",
    "ref_double_hundred": "$session.hundred",
    "ref_bool": "$session.yes/$session.no",
    "ref_empty_string": "[$session.empty]",
    "ref_list": "$session.items",
    "ref_list_numbers": "$session.nums",
    "ref_list_empty": "$session.none",
    "ref_list_nested": "$session.nested",
    "ref_list_of_maps": "$session.objs",
    "ref_map": "$session.map",
    "ref_map_empty": "$session.emptymap",
    "ref_unicode": "$session.unicode",
    "ref_value_with_dollar": "$session.dollar",
    "ref_value_with_hash": "$session.hash",
    "ref_value_with_quote": "$session.quote",
    "ref_value_multiline": "$session.multi",
    "ref_trailing_dot": "Priority: $session.priority.",
    "ref_trailing_dot_formal": "Priority: ${session.priority}.",
    "ref_dash_after": "$session.priority-level",
    "ref_underscore": "$session_priority",
    "ref_digits_in_name": "$a1 $a_b $A",
    "ref_adjacent": "$session.priority$session.count",
    "ref_in_parens": "($session.priority)",
    "ref_tools_list": "$tools",
    "ref_map_in_map": "$agent.metadata",
    "ref_user_tags": "Tags: $session.user.tags",
    "ref_number_prop_after_dot_digit": "$session.count.5",
}
for n, t in refs.items():
    case(n, t)

# ---- plain text, $ and # that are not references or directives -----------
texts = {
    "text_plain": "Just text.",
    "text_empty": "",
    "text_lone_dollar": "Costs $ 5",
    "text_dollar_digit": "Costs $5 and $1.00",
    "text_double_dollar": "$$ and $$session.priority",
    "text_dollar_end": "end$",
    "text_email": "mail ada@example.com now",
    "text_lone_hash": "# heading",
    "text_hash_digit": "item #1 and #2",
    "text_hash_end": "end#",
    "text_hash_word_unknown": "#hashtag and #foo",
    "text_dollar_bang_alone": "$! and $!!",
    "text_dollar_brace_space": "${ session }",
    "text_unicode": "Grüße ✓ 日本",
    "text_tabs_crlf": "a\tb\r\nc",
    "text_backslashes": "a\\b \\\\ c",
    "text_multiline": "line one\nline two\n\nline four\n",
}
for n, t in texts.items():
    case(n, t)

# ---- comments ----------------------------------------------------------------
comments = {
    "comment_line": "before ## comment\nafter",
    "comment_line_at_start": "## whole line\nafter",
    "comment_line_end_of_template": "text ## no newline",
    "comment_block": "a #* hidden *# b",
    "comment_block_multiline": "a #* line1\nline2 *# b",
    "comment_block_with_refs": "a #* $session.priority #if *# b",
    "comment_block_on_own_line": "a\n#* hidden *#\nb",
    "comment_line_after_directive": "#set($x = 1)## set it\nvalue $x",
    "comment_triple_hash": "### three\nafter",
    "comment_block_unterminated": "a #* never closed",
    "comment_line_in_if": "#if(true)## yes\nyes#end",
}
for n, t in comments.items():
    case(n, t)

# ---- escapes ---------------------------------------------------------------
escapes = {
    "escape_defined": "\\$session.priority",
    "escape_undefined": "\\$nothing",
    "escape_formal_defined": "\\${session.priority}",
    "escape_formal_undefined": "\\${nothing}",
    "escape_double_defined": "\\\\$session.priority",
    "escape_double_undefined": "\\\\$nothing",
    "escape_triple_defined": "\\\\\\$session.priority",
    "escape_quiet_defined": "\\$!session.priority",
    "escape_quiet_undefined": "\\$!nothing",
    "escape_hash_if": "\\#if(true) x \\#end",
    "escape_hash_set": "\\#set($a = 1) $a",
    "escape_hash_foreach": "\\#foreach",
    "escape_hash_unknown": "\\#hello",
    "escape_next_to_ref": "cost: \\$session.count$session.count",
    "escape_backslash_text": "a \\ b",
    "escape_in_string": "#set($s = \"\\$session.priority\")$s",
    "escape_set_var_defined": "#set($v = 1)\\$v",
}
for n, t in escapes.items():
    case(n, t)

# ---- #set ----------------------------------------------------------------------
sets = {
    "set_string": "#set($x = \"hello\")$x",
    "set_string_single": "#set($x = 'hello $session.priority')$x",
    "set_string_interpolated": "#set($x = \"hello $session.priority\")$x",
    "set_string_interpolated_undefined": "#set($x = \"hi $nothing\")$x",
    "set_string_interpolated_quiet": "#set($x = \"hi $!nothing!\")$x",
    "set_string_formal_interp": "#set($x = \"${session.priority}ness\")$x",
    "set_number": "#set($x = 42)$x",
    "set_negative": "#set($x = -42)$x",
    "set_decimal": "#set($x = 4.5)$x",
    "set_bool": "#set($x = true)$x #set($y = false)$y",
    "set_ref": "#set($x = $session.user.name)$x",
    "set_ref_list": "#set($x = $session.items)$x",
    "set_undefined_keeps_old": "#set($x = 1)#set($x = $nothing)$x",
    "set_undefined_new": "#set($x = $nothing)$x",
    "set_list": "#set($x = [1, \"two\", 3.0, true])$x",
    "set_list_empty": "#set($x = [])$x",
    "set_list_nested": "#set($x = [[1], [2, 3]])$x",
    "set_list_refs": "#set($x = [$session.priority, $session.count])$x",
    "set_range": "#set($x = [1..5])$x",
    "set_range_down": "#set($x = [3..-1])$x",
    "set_range_refs": "#set($n = 3)#set($x = [1..$n])$x",
    "set_spaces": "#set( $x = \"a\" )$x",
    "set_no_spaces": "#set($x=\"a\")$x",
    "set_reassign": "#set($x = 1)$x#set($x = 2)$x",
    "set_overrides_context": "#set($currentDate = \"today\")$currentDate",
    "set_line_gobbles_newline": "a\n#set($x = 1)\nb $x",
    "set_indented_line": "a\n    #set($x = 1)\nb $x",
    "set_indented_trailing_space": "a\n  #set($x = 1)  \nb $x",
    "set_mid_line": "a #set($x = 1) b $x",
    "set_two_on_a_line": "#set($a = 1)#set($b = 2)\n$a$b",
    "set_string_with_hash": "#set($x = \"#not a directive\")$x",
    "set_string_with_quote_escape": "#set($x = 'it''s')$x",
    "set_then_quiet": "#set($x = \"\")[$!x]",
    "set_in_string_interp_list": "#set($l = [1,2])#set($s = \"l=$l\")$s",
    "set_from_foreach_var": "#foreach($i in [1..3])#set($last = $i)#end$last",
}
for n, t in sets.items():
    case(n, t)

# ---- #if ---------------------------------------------------------------------
ifs = {
    "if_true": "#if(true)yes#end",
    "if_false": "#if(false)yes#end",
    "if_else": "#if(false)yes#else no#end",
    "if_elseif": "#if(false)a#elseif(true)b#else c#end",
    "if_elseif_chain": "#if($session.count == 1)one#elseif($session.count == 2)two#elseif($session.count == 3)three#else many#end",
    "if_defined_string": "#if($session.priority)set#end",
    "if_empty_string": "#if($session.empty)truthy#else falsy#end",
    "if_zero": "#if($session.zero)truthy#else falsy#end",
    "if_false_value": "#if($session.no)truthy#else falsy#end",
    "if_undefined": "#if($nothing)truthy#else falsy#end",
    "if_empty_list": "#if($session.none)truthy#else falsy#end",
    "if_map": "#if($session.map)truthy#end",
    "if_not": "#if(!$nothing)not#end",
    "if_not_word": "#if(not $session.yes)a#else b#end",
    "if_and": "#if($session.yes && $session.priority)both#end",
    "if_and_word": "#if($session.yes and $session.no)both#else not#end",
    "if_or": "#if($session.no || $session.yes)one#end",
    "if_or_word": "#if($nothing or $session.yes)one#end",
    "if_parens": "#if(($session.no || $session.yes) && !$session.no)ok#end",
    "if_eq_int": "#if($session.count == 3)eq#end",
    "if_ne_int": "#if($session.count != 3)ne#else same#end",
    "if_eq_word": "#if($session.count eq 3)eq#end",
    "if_ne_word": "#if($session.count ne 4)ne#end",
    "if_lt": "#if($session.count < 4)lt#end",
    "if_gt": "#if($session.count > 4)gt#else notgt#end",
    "if_le": "#if($session.count <= 3)le#end",
    "if_ge": "#if($session.count >= 3)ge#end",
    "if_lt_word": "#if($session.count lt 4)lt#end",
    "if_gt_word": "#if($session.count gt 2)gt#end",
    "if_le_word": "#if($session.count le 2)le#else notle#end",
    "if_ge_word": "#if($session.count ge 3)ge#end",
    "if_int_eq_string": "#if($session.five == \"5\")eq#else ne#end",
    "if_string_eq_int": "#if($session.five_s == 5)eq#else ne#end",
    "if_int_eq_double": "#if($session.five == $session.five_d)eq#else ne#end",
    "if_int_eq_double_literal": "#if($session.five == 5.0)eq#else ne#end",
    "if_double_eq_string": "#if($session.five_d == \"5.0\")eq#else ne#end",
    "if_string_eq_string": "#if($session.priority == \"high\")eq#end",
    "if_string_ne_string": "#if($session.priority != \"low\")ne#end",
    "if_string_lt_string": "#if($session.priority < \"z\")lt#else nolt#end",
    "if_bool_eq_true": "#if($session.yes == true)eq#end",
    "if_bool_eq_string": "#if($session.yes == \"true\")eq#else ne#end",
    "if_undefined_eq_undefined": "#if($nothing == $nada)eq#else ne#end",
    "if_undefined_eq_string": "#if($nothing == \"x\")eq#else ne#end",
    "if_list_eq_list": "#if($session.items == [\"x\", \"y\", \"z\"])eq#else ne#end",
    "if_negative_compare": "#if($session.neg < 0)neg#end",
    "if_long_compare": "#if($session.big > 9007199254740992)bigger#else notbigger#end",
    "if_double_compare": "#if($session.ratio < 0.2)small#end",
    "if_formal_else_end": "#if(false)a#{else}b#{end}",
    "if_formal_if": "#{if}(true)yes#{end}",
    "if_formal_elseif": "#{if}(false)a#{elseif}(true)b#{end}",
    "if_formal_else_glued": "#if(false)x#{else}y#{end}z",
    "if_nested": "#if(true)a#if(false)b#else c#end d#end",
    "if_spaces_in_condition": "#if( $session.count == 3 )ok#end",
    "if_space_before_paren": "#if ($session.yes)ok#end",
    "if_lines": "start\n#if($session.yes)\n  yes line\n#end\nend",
    "if_lines_else": "start\n#if($session.no)\nA\n#else\nB\n#end\nend",
    "if_lines_indented": "start\n  #if($session.yes)\n    inner\n  #end\nend",
    "if_inline_in_sentence": "You are #if($session.user.tier == \"gold\")a gold#else a regular#end member.",
    "if_string_literal_condition": "#if(\"x\")yes#else no#end",
    "if_number_literal_condition": "#if(1)yes#else no#end",
    "if_chain_compare_and": "#if($session.count > 1 && $session.count < 5)in#end",
    "if_not_compare": "#if(!($session.count == 3))x#else y#end",
    "if_end_then_text": "#if(true)a#end\nafter",
    "if_quiet_ref_condition": "#if($!session.yes)ok#end",
    "if_metadata_number": "#if($agent.metadata.level == 2)level2#end",
}
for n, t in ifs.items():
    case(n, t)

# ---- #foreach ------------------------------------------------------------------
loops = {
    "foreach_list": "#foreach($i in $session.items)$i#end",
    "foreach_separator": "#foreach($i in $session.items)$i#if($foreach.hasNext), #end#end",
    "foreach_count_index": "#foreach($i in $session.items)$foreach.count:$foreach.index #end",
    "foreach_has_next": "#foreach($i in $session.items)$foreach.hasNext #end",
    "foreach_velocity_count": "#foreach($i in $session.items)$velocityCount #end",
    "foreach_empty": "[#foreach($i in $session.none)$i#end]",
    "foreach_undefined": "[#foreach($i in $nothing)$i#end]",
    "foreach_range": "#foreach($i in [1..4])$i#end",
    "foreach_range_down": "#foreach($i in [2..-2])$i,#end",
    "foreach_range_single": "#foreach($i in [7..7])$i#end",
    "foreach_literal_list": "#foreach($i in [\"a\", 1, true])$i#end",
    "foreach_map_values": "#foreach($v in $session.map)$v #end",
    "foreach_objects": "#foreach($o in $session.objs)$o.id=$o.n #end",
    "foreach_tools": "#foreach($t in $tools)- $t.id: $t.name\n#end",
    "foreach_nested": "#foreach($row in $session.nested)[#foreach($c in $row)$c#end]#end",
    "foreach_nested_counts": "#foreach($a in [1..2])#foreach($b in [1..2])$foreach.count#end/$foreach.count #end",
    "foreach_var_after_loop": "#foreach($i in [1..3])#end[$i]",
    "foreach_var_shadows": "#set($i = \"outer\")#foreach($i in [1..2])$i#end $i",
    "foreach_foreach_after_loop": "#foreach($i in [1])#end[$foreach.count]",
    "foreach_lines": "List:\n#foreach($i in $session.items)\n  - $i\n#end\nDone",
    "foreach_lines_indented": "List:\n  #foreach($i in $session.items)\n  - $i\n  #end\nDone",
    "foreach_formal_end": "#foreach($i in [1..3])$i#{end}",
    "foreach_spaces": "#foreach( $i in $session.items )$i#end",
    "foreach_set_inside": "#foreach($i in [1..3])#set($sum = $i)#end$sum",
    "foreach_if_inside": "#foreach($n in $session.nums)#if($n > 1)$n#end#end",
    "foreach_user_tags": "#foreach($t in $session.user.tags)<$t>#end",
    "foreach_over_string": "#foreach($c in $session.priority)$c#end",
    "foreach_over_number": "#foreach($c in $session.count)$c#end",
    "foreach_quiet_var": "#foreach($i in $session.none)#end$!i.",
    "foreach_has_next_last": "#foreach($i in [1..2])#if(!$foreach.hasNext)last=$i#end#end",
    "foreach_index_compare": "#foreach($i in $session.items)#if($foreach.index == 1)second=$i#end#end",
    "foreach_range_from_ref": "#foreach($i in [1..$session.count])$i#end",
    "foreach_in_if": "#if(true)#foreach($i in [1..2])$i#end#end",
    "foreach_string_interp": "#foreach($i in [1..2])#set($s = \"item-$i\")$s #end",
}
for n, t in loops.items():
    case(n, t)

# ---- whitespace around directives -----------------------------------------
ws = {
    "ws_end_on_own_line": "a\n#end",
    "ws_directive_then_text_same_line": "#if(true) text#end",
    "ws_multiple_directives_line": "#if(true)#set($x = 1)#end\n$x",
    "ws_blank_lines_between": "#set($a = 1)\n\n#set($b = 2)\n\n$a$b",
    "ws_tab_indent": "\t#set($x = 1)\n$x",
    "ws_trailing_whitespace_after_end": "#if(true)\nx\n#end   \ny",
    "ws_else_on_own_line": "#if(false)\na\n  #else  \nb\n#end\n",
    "ws_crlf_lines": "#set($x = 1)\r\n$x\r\n",
    "ws_comment_and_set": "## header\n#set($x = 1)\n$x",
    "ws_nested_indent": "#foreach($i in [1..2])\n  #if($i == 1)\n    one\n  #else\n    other\n  #end\n#end\n",
    "ws_text_before_directive_line": "text #if(true)\nx\n#end",
    "ws_final_newline": "a $session.priority\n",
}
for n, t in ws.items():
    case(n, t)

# ---- a realistic instruction ------------------------------------------------
case("realistic_instruction", """You are $agent.name, a support agent for the ${agent.metadata.dept} team.
Today is $currentDate.
#if($session.user.tier == "gold")
Treat ${session.user.name} as a priority customer.
#else
Be friendly to $session.user.name.
#end
Available tools:
#foreach($t in $tools)
  $foreach.count. $t.name ($t.id)#if($foreach.hasNext),#end

#end
## internal note: not rendered
Priority: $!session.priority
Unknown: $session.ticket.id""")
case("realistic_session_context", "Priority: ${session.priority}.")

# ---- parse errors (both sides must refuse) ---------------------------------
errors = {
    "error_end_without_opener": "text #end",
    "error_unclosed_if": "#if(true) never closed",
    "error_unclosed_foreach": "#foreach($i in [1..2]) $i",
    "error_else_without_if": "a #else b",
    "error_set_garbage": "#set($x = )",
    "error_set_no_target": "#set(= 1)",
    "error_if_no_paren": "#if true #end",
    "error_if_unclosed_paren": "#if(true #end",
    "error_unterminated_string": "#set($x = \"abc)$x",
    "error_elseif_after_else": "#if(false)a#else b#elseif(true)c#end",
}
for n, t in errors.items():
    case(n, t)

# ---- deliberate differences -------------------------------------------------
case("differs_method_call_size", "$session.items.size()",
     differs=("method calls are not part of the subset: rendered as written",
              "$session.items.size()"))
case("differs_macro", "#macro(hi)hello#end#hi()",
     differs=("#macro is not part of the subset: a parse error", "ERROR"))
case("differs_include", "#include(\"x.txt\")",
     differs=("#include/#parse read files: not part of the subset, rendered as written "
              "(Velocity fails: no such resource)", "#include(\"x.txt\")"))
case("differs_index_notation", "$session.items[0]",
     differs=("index notation ($list[0]) is not part of the subset: the reference ends "
              "before '['", "[x, y, z][0]"))
case("differs_set_formal_target", "#set(${x} = 5)$x",
     differs=("#set(${x} = …) assigns $x; Velocity 1.7 silently ignores a formal target",
              "5"))
case("differs_foreach_without_in", "#foreach($i $session.items)#end",
     differs=("#foreach without 'in' is refused when parsed; Velocity 1.7 accepts it and "
              "logs an error when rendering", "ERROR"))

# ---- the ends of templates and odd $ / # sequences (Velocity's parser) -------
edges = {
    "edge_ends_with_dollar": "end $",
    "edge_only_dollar": "$",
    "edge_only_hash": "#",
    "edge_dollar_space": "a$ ",
    "edge_hash_space": "a# ",
    "edge_dollar_bang_dot": "$!.",
    "edge_dollar_bang_space": "$! x",
    "edge_ends_with_dollar_bang": "a $!",
    "edge_dollar_bang_brace_end": "$!{",
    "edge_backslash_end": "a\\",
    "edge_double_dollar_end": "$$",
    "edge_comment_then_dollar_end": "a ## c$",
    "edge_block_comment_then_dollar": "#*x*#$",
    "edge_dollar_bang_bang": "$!!x",
    "edge_dollar_then_newline": "end$\n",
    "edge_ref_then_dollar_end": "#set($a=1)$a$",
    "edge_dollar_bang_digit": "$!1",
    "edge_dollar_bang_dash": "$!-",
    "edge_hash_then_newline": "end#\n",
}
for n, t in edges.items():
    case(n, t)
case("differs_arithmetic", "#set($x = 1 + 2)$x",
     differs=("arithmetic is not part of the subset: a parse error", "ERROR"))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    names = set()
    with open(os.path.join(here, "corpus.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("=== _format\n--- template\n"
                "This file is generated by make_corpus.py (edit the cases there).\n"
                "Each case: '=== name', then '--- context' (JSON), '--- template',\n"
                "and for a deliberate difference '--- differs: reason' followed by\n"
                "'--- expect' or '--- expect-error'. A section ends before the next\n"
                "marker line, without that last line's newline.\n")
        for name, template, context, differs in CASES:
            assert name not in names, name
            assert "\n=== " not in "\n" + template and "\n--- " not in "\n" + template, name
            names.add(name)
            f.write(f"=== {name}\n--- context\n{json.dumps(context, ensure_ascii=False)}\n")
            f.write(f"--- template\n{template}\n")
            if differs:
                reason, expect = differs
                f.write(f"--- differs: {reason}\n")
                if expect == "ERROR":
                    f.write("--- expect-error\n")
                else:
                    f.write(f"--- expect\n{expect}\n")
    print(f"{len(CASES)} cases")


if __name__ == "__main__":
    main()
