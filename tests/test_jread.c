/*
 * The fast JSON parser against jansson, its judge: on any text it either
 * declines (NULL) or gives exactly the tree jansson gives; it never takes
 * a text jansson refuses. Checked on every JSONTestSuite file and on the
 * cases it leaves to jansson on purpose.
 */

#include <criterion/criterion.h>
#include <string.h>

#include <jansson.h>

#include "jread.h"
#include "jsts.h"

#define JANSSON_FLAGS	(JSON_DECODE_ANY | JSON_ALLOW_NUL | \
			    JSON_REJECT_DUPLICATES)

/* jread on len bytes at text agrees with jansson; whether it took it. */
static int
agrees(const char *text, size_t len, const char *name)
{
	json_t	*want, *got;
	int	 taken;

	want = json_loadb(text, len, JANSSON_FLAGS, NULL);
	got = jread(text, len);
	if (want == NULL)
		cr_assert_null(got, "%s: taken, but jansson refuses it", name);
	else if (got != NULL)
		cr_assert(json_equal(want, got), "%s: not jansson's tree",
		    name);
	taken = got != NULL;
	json_decref(want);
	json_decref(got);
	return taken;
}

static int
agrees_str(const char *text)
{
	return agrees(text, strlen(text), text);
}

Test(jread, json_test_suite_files_agree_with_jansson)
{
	struct jsts_case	*cases;
	size_t			 n, i, ytaken = 0, y = 0;
	int			 taken;

	cases = jsts_load(&n);
	for (i = 0; i < n; i++) {
		taken = agrees(cases[i].text, cases[i].text_len,
		    cases[i].name);
		if (cases[i].kind == 'y') {
			y++;
			ytaken += taken;
		}
	}
	/*
	 * It is a fast path, not a decliner: of the files every parser must
	 * take, it leaves only the few with lone surrogates, NUL keys or
	 * numbers past a double to jansson.
	 */
	cr_log_info("jread takes %zu of the %zu y_ files", ytaken, y);
	cr_assert_geq(ytaken, y - 8, "jread took only %zu of %zu y_ files",
	    ytaken, y);
	jsts_free(cases, n);
}

Test(jread, values_come_back_as_jansson_reads_them)
{
	static const char *const taken[] = {
		"{\"type\":\"sleep\",\"ms\":1000}",
		(" [1, -0, 2.5, -1e3, 1E+2, 0.5e-3, 9223372036854775807,"
		" -9223372036854775808, 123456789012345678] "),
		"\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\"",
		"\"nul \\u0000 inside\"",
		"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
		"{\"a\":{\"b\":[true,false,null,{}]},\"c\":[]}",
		"{\"\\u0061\":1,\"b\":\"x\"}",
	};
	size_t	i;

	for (i = 0; i < sizeof taken / sizeof taken[0]; i++)
		cr_assert(agrees_str(taken[i]), "declined: %s", taken[i]);
}

Test(jread, what_jansson_refuses_or_must_word_is_declined)
{
	static const char *const declined[] = {
		"",
		"  ",
		"{\"a\":1,\"a\":2}",			/* a key repeated */
		"{\"\\u0061\":1,\"a\":2}",		/* the same, escaped */
		"{\"a\\u0000b\":1}",			/* NUL in a key */
		"\"\\ud800\"",				/* lone surrogates */
		"\"\\udc00\"",
		"\"\\ud800\\u0041\"",
		"9223372036854775808",			/* past 64 bits */
		"-9223372036854775809",
		"1e400",				/* past a double */
		"01", "1.", ".5", "-", "1e", "+1", "0x10",
		"[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{1:2}",
		"[1 2]", "\"\\x\"", "\"\t\"", "\"\xc3\"", "\"\xed\xa0\x80\"",
		"tru", "nulll", "[", "]", "{", "}", "1 2",
	};
	size_t	i;

	for (i = 0; i < sizeof declined / sizeof declined[0]; i++)
		cr_assert_not(agrees_str(declined[i]), "taken: %s",
		    declined[i]);
}

Test(jread, nesting_past_its_depth_is_left_to_jansson)
{
	char	text[2 * (JREAD_MAX_DEPTH + 1) + 1];
	size_t	i, depth;

	for (depth = JREAD_MAX_DEPTH; depth <= JREAD_MAX_DEPTH + 1;
	    depth++) {
		for (i = 0; i < depth; i++) {
			text[i] = '[';
			text[depth + i] = ']';
		}
		text[2 * depth] = '\0';
		cr_assert_eq(agrees_str(text), depth <= JREAD_MAX_DEPTH,
		    "depth %zu", depth);
	}
}

Test(jread, one_value_at_the_start_says_where_it_ends)
{
	const char	*text = "{\"ms\":5} , 7]", *stop;
	json_t		*v;

	cr_assert_not_null(v = jread_value_at(text, text + strlen(text),
	    &stop));
	cr_assert_eq(stop, text + 8);
	cr_assert_eq(json_integer_value(json_object_get(v, "ms")), 5);
	json_decref(v);
	cr_assert_null(jread_value_at(text + 8, text + strlen(text), &stop),
	    "whitespace before a value is the caller's");
}
