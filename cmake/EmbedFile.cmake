# Writes OUT: a C++ file defining `extern const char NAME[]` (in namespace
# agentry) holding the bytes of IN.
file(READ ${IN} content)
file(WRITE ${OUT}.tmp "// Generated from ${IN}; do not edit.\nnamespace agentry {\nextern const char ${NAME}[];\nconst char ${NAME}[] = R\"agentry_embed(${content})agentry_embed\";\n}  // namespace agentry\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
