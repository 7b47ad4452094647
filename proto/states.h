/* The connection state names protocol.md gives; the relay's logs and the
 * demo page's timeline use the same words. */
#ifndef PROTO_STATES_H
#define PROTO_STATES_H

/* Registration (state2). */
enum state2 {
    STATE2_UNREGISTERED, /* before the challenge */
    STATE2_CHALLENGED,   /* register2 sent */
    STATE2_RESPONDED,    /* client sent register3 */
    STATE2_COMPUTING,    /* proof on the crypto pool */
    STATE2_VERIFIED,
    STATE2_UNVERIFIED,
    STATE2_ERROR,        /* broken exchange */
};

static inline const char *state2_name(enum state2 s) {
    static const char *const names[] = {"UNREGISTERED", "CHALLENGED", "RESPONDED", "COMPUTING",
                                        "VERIFIED", "UNVERIFIED", "ERROR"};
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

#endif
