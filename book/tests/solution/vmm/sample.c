// Fixture for the book filter tests: regions, a nested lab region, markers.
#include <stdint.h>

// @region sample_table
static const int sample_table[] = {
	1, 2, 3,
};
// @end

// @region sample_with_lab
int sample_run(int x)
{
	int y = x;
	// @lab 01 sample_step: Double the value.
	y = y * 2; /* SECRET-SOLUTION-LINE */
	// @stub lab_todo(1, "sample_step");
	// @end
	return y;
}
// @end

/* Why this function exists: a fixture for the function shape. */
static int sample_fn(int a,
		     int b)
{
	int c = a;
	// @lab 01 sample_add: Add b to c.
	c += b; /* SECRET-SOLUTION-LINE */
	// @stub lab_todo(1, "sample_add");
	// @end
	return c;
}
