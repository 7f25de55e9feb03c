/* test_child.c -- the registry of child kinds (child.c): a child forked for a registered kind
 * keeps exactly the descriptors it was given (and stdio), its kind's done handler sees its exit
 * status, and an unregistered kind or too many descriptors are refused before any fork. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "child.h"

#define TEST_KIND 5 /* a kind no subsystem registers here */

static int done_calls, done_exitcode, done_signal;

static void testDone(int exitcode, int bysignal) {
    done_calls++;
    done_exitcode = exitcode;
    done_signal = bysignal;
}

static int isOpen(int fd) {
    return fcntl(fd, F_GETFD) != -1;
}

/* Reaps the child through childCron, as serverCron would. */
static void waitChild(void) {
    for (int i = 0; i < 1000 && childActive(); i++) {
        childCron();
        usleep(10000);
    }
}

Test(child, keeps_only_the_given_descriptors) {
    childRegisterKind(TEST_KIND, "test", testDone);
    cr_assert_str_eq(childKindName(TEST_KIND), "test");
    int kept[2], dropped[2];
    cr_assert_eq(pipe(kept), 0);
    cr_assert_eq(pipe(dropped), 0);
    int keep[] = {kept[1]};
    pid_t pid = childFork(TEST_KIND, 1, keep, 1);
    cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* Exit code bits: 1 = a kept descriptor was closed, 2 = another one stayed open. */
        int code = 0;
        if (!isOpen(kept[1]) || write(kept[1], "k", 1) != 1) code |= 1;
        if (isOpen(dropped[0]) || isOpen(dropped[1]) || isOpen(kept[0])) code |= 2;
        childExit(code);
    }
    cr_assert_eq(childActiveType(), TEST_KIND);
    waitChild();
    cr_assert_eq(done_calls, 1);
    cr_assert_eq(done_exitcode, 0, "child exit code %d", done_exitcode);
    cr_assert_eq(done_signal, 0);
    char ch = 0;
    cr_assert_eq(read(kept[0], &ch, 1), 1);
    cr_assert_eq(ch, 'k');
}

Test(child, refuses_unregistered_kinds_and_too_many_descriptors) {
    errno = 0;
    cr_assert_eq(childFork(CHILD_TYPE_MAX - 1, 1, NULL, 0), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(childFork(0, 1, NULL, 0), -1);
    childRegisterKind(TEST_KIND, "test", testDone);
    int many[CHILD_KEEP_MAX + 1] = {0};
    errno = 0;
    cr_assert_eq(childFork(TEST_KIND, 1, many, CHILD_KEEP_MAX + 1), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(childActive(), 0);
    cr_assert_str_eq(childKindName(CHILD_TYPE_MAX - 1), "none");
}
