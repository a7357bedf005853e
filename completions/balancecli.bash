_balancecli_completion() {
    local IFS=$'\n'
    # Bash cuts words at COMP_WORDBREAKS, ":" included, so an account id such as
    # cqg-demo:RITHMIC-PAPER-7 would reach the command in three pieces. The command gets the
    # line as typed up to the cursor, and answers only the part bash replaces (after the last
    # ":" of the word being completed).
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD=$COMP_CWORD \
                   _BALANCECLI_COMP_LINE="${COMP_LINE:0:COMP_POINT}" \
                   _BALANCECLI_COMP_WORDBREAKS="$COMP_WORDBREAKS" \
                   _BALANCECLI_COMPLETE=complete_bash $1 ) )
    # A file or directory is asked for here: bash's own file names. Anywhere else a word
    # with no candidate gets none.
    if [[ ${COMPREPLY[0]} == "-:files:-" ]]; then
        COMPREPLY=()
        compopt -o default
    elif [[ ${COMPREPLY[0]} == "-:dirs:-" ]]; then
        COMPREPLY=()
        compopt -o dirnames
    fi
    return 0
}

complete -F _balancecli_completion balancecli
