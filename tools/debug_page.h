/* debug_page: `msockctl debug page [--serve [PORT]]` (debug_page.c): where
 * the node's debug endpoint is (docs/debug.md), and for a browser, a
 * loopback port that forwards to its unix socket. */
#ifndef MSOCK_DEBUG_PAGE_H
#define MSOCK_DEBUG_PAGE_H

#include <stddef.h>

#define DEBUG_PAGE_DEFAULT_CONFIG "/etc/msock/msock.json"

/* Runs the command with its arguments (after "page"); config_path is
 * msockctl's --config or NULL (the default). Returns msockctl's status. */
int debug_page_main(const char *config_path, char **args, size_t n);

#endif
