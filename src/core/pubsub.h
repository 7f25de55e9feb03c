/* pubsub.h -- PUBLISH / SUBSCRIBE / PSUBSCRIBE (Sentinel finds its peers through a channel). */
#ifndef QV_PUBSUB_H
#define QV_PUBSUB_H

#include "server.h"

void pubsubInit(void);
int pubsubUnsubscribeAll(qvClient *c, int notify);
size_t pubsubClientCount(const qvClient *c);
void subscribeCommand(qvClient *c);
void unsubscribeCommand(qvClient *c);
void psubscribeCommand(qvClient *c);
void punsubscribeCommand(qvClient *c);
void publishCommand(qvClient *c);
/* Delivers msg on channel ch to its subscribers and matching patterns; returns how many got it
 * (PUBLISH, keyspace notifications). */
long long pubsubPublishMessage(const char *ch, size_t chlen, const char *msg, size_t msglen);
void pubsubChannelsCommand(qvClient *c);
void pubsubNumsubCommand(qvClient *c);
void pubsubNumpatCommand(qvClient *c);
size_t pubsubTotalChannels(void);
size_t pubsubTotalPatterns(void);

#endif
