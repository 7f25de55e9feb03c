/* server_main.c -- the quiver-server program. Everything else lives in libquiver.a so that the
 * tools and tests can link it; see server.c for start-up. */
#include "server.h"

int main(int argc, char **argv) {
    return serverMain(argc, argv);
}
