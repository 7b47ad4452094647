/* report_page.html, built into the binary so that `report` needs no file
 * beside it (the Makefile makes this object depend on the page). */
__asm__(".section .rodata\n"
        ".global report_page\n"
        ".type report_page, @object\n"
        "report_page:\n"
        ".incbin \"bench/loadgen/report_page.html\"\n"
        ".byte 0\n"
        ".previous\n");
