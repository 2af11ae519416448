# bash completion for jobctl, generated from its command tree by `jobctl completion bash`.
# Install: jobctl completion bash > ~/.local/share/bash-completion/completions/jobctl

_jobctl_node() {
    case $1 in
    'jobctl')
        _subs='submit call status wait events cancel retry list result doctor demo server config webhook completion'
        _flags='--url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci --version -h --help'
        _valued='--url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl submit')
        _subs=''
        _flags='-i --input -p --param --wait --timeout -o --output --force --idempotency-key --webhook --webhook-secret --webhook-event --priority --strategy --cancel-on-interrupt --junit --dotenv --url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='-i --input -p --param --timeout -o --output --idempotency-key --webhook --webhook-secret --webhook-event --priority --strategy --junit --dotenv --url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl call')
        _subs=''
        _flags='-d --data -H --header --wait --timeout --dialect --final-state-via --idempotency-key -o --output --force --cancel-on-interrupt --junit --dotenv --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='-d --data -H --header --timeout --dialect --final-state-via --idempotency-key -o --output --junit --dotenv --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl status')
        _subs=''
        _flags='--last --url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl wait')
        _subs=''
        _flags='--last --timeout -o --output --force --strategy --cancel-on-interrupt -H --header --junit --dotenv --url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--timeout -o --output --strategy -H --header --junit --dotenv --url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl events')
        _subs=''
        _flags='--last --all --type --last-event-id --ticket --url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--type --last-event-id --url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl cancel')
        _subs=''
        _flags='--last --wait --timeout --url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--timeout --url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl retry')
        _subs=''
        _flags='--last --wait --timeout -o --output --force --idempotency-key --cancel-on-interrupt --url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--timeout -o --output --idempotency-key --url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl list')
        _subs=''
        _flags='--status --type --limit --all -w --watch --url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--status --type --limit --url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl result')
        _subs=''
        _flags='--last -o --output --force --junit --dotenv --url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='-o --output --junit --dotenv --url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl doctor')
        _subs=''
        _flags='--type -i --input --second-token --only --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--type -i --input --second-token --only --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl demo')
        _subs=''
        _flags='--pages --format -o --output --serve --url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--pages --format -o --output --url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl server')
        _subs=''
        _flags=''
        _valued=''
        _args='' ;;
    'jobctl config')
        _subs='set get unset list path'
        _flags='--url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl config set')
        _subs=''
        _flags='--profile --url --token --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--profile --url --token --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl config get')
        _subs=''
        _flags='--profile --url --token --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--profile --url --token --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl config unset')
        _subs=''
        _flags='--profile --url --token --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--profile --url --token --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl config list')
        _subs=''
        _flags='--profile --url --token --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--profile --url --token --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl config path')
        _subs=''
        _flags='--url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl webhook')
        _subs='verify listen'
        _flags='--url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl webhook verify')
        _subs=''
        _flags='--secret -H --header --tolerance --url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--secret -H --header --tolerance --url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl webhook listen')
        _subs=''
        _flags='--port --secret --forward --tolerance --max --url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--port --secret --forward --tolerance --max --url --token --profile --progress --ca-bundle --ci'
        _args='' ;;
    'jobctl completion')
        _subs=''
        _flags='--url --token --profile --json -q --quiet --progress -v --verbose --ca-bundle --insecure --ci -h --help'
        _valued='--url --token --profile --progress --ca-bundle --ci'
        _args='bash zsh fish' ;;
    *) _subs='' _flags='' _valued='' _args='' ;;
    esac
}

_jobctl_choices() {
    case $1 in
    --progress) _choices='auto bar plain none' ;;
    --ci) _choices='auto github gitlab none' ;;
    --strategy) _choices='auto sse poll' ;;
    --dialect) _choices='auto jobctl azure google location' ;;
    --format) _choices='pdf csv json' ;;
    *) _choices='' ;;
    esac
}

_jobctl() {
    local cur=${COMP_WORDS[COMP_CWORD]} node=jobctl word i value=''
    local _subs _flags _valued _args _choices
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        _jobctl_node "$node"
        if [[ -n $value ]]; then
            value=''
        elif [[ " $_valued " == *" $word "* ]]; then
            value=$word
        elif [[ $word != -* && " $_subs " == *" $word "* ]]; then
            node="$node $word"
        fi
    done
    _jobctl_node "$node"
    if [[ -n $value ]]; then
        _jobctl_choices "$value"
        COMPREPLY=($(compgen -W "$_choices" -- "$cur"))
    elif [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$_flags" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$_subs $_args" -- "$cur"))
    fi
}

complete -o default -F _jobctl jobctl
