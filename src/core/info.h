/* info.h -- the INFO command: Redis's sections and field names, plus Quiver's own fields. */
#ifndef QV_INFO_H
#define QV_INFO_H

#include "server.h"

void infoCommand(qvClient *c);
/* Builds the INFO text for the given sections (the default set if none); zmalloc'ed. */
char *genInfoString(const char **sections, int count);
/* Other subsystems add sections here (e.g. "vectors" from the index layer). The generator
 * appends to the zmalloc'ed buffer through infoAppend(), which grows it as needed. */
typedef void infoSectionFn(char **buf, size_t *len, size_t *cap);
void infoRegisterSection(const char *name, int in_default, infoSectionFn *fn);
void infoAppend(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
