/* server_main.c -- the quiver-server program. Everything else lives in the layer libraries
 * (build/lib<layer>.a) so that the tools and tests can link them; see server.c for start-up. */
#include "server.h"

int main(int argc, char **argv) {
    return serverMain(argc, argv);
}
