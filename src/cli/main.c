/* Placeholder entry point until the CLI lands. */
#include <stdio.h>
int main(void) { puts("repro"); return 0; }
