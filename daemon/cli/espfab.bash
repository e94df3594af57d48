# bash completion for espfab (installed as bash-completion/completions/espfab).
# The command words and options mirror 'espfab --help' and each family's
# --help; tests/integration/install_paths.sh checks every command is here.

_espfab() {
	local cur prev words cword
	_init_completion 2>/dev/null || {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	}
	local globals="--db --socket --config --help --version"
	local commands="nvs mfg part flash product records audit batch status watch secure-cert certs"
	local i cmd="" sub="" cmd_at=0
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--db | --socket | --config) ((i++)) ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${words[i]}
				cmd_at=$i
			elif [[ -z $sub ]]; then
				sub=${words[i]}
			fi
			;;
		esac
	done
	case $prev in
	--db | --config | --seal-key | --table | --firmware | --keyfile | --inputkey | --outdir)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--socket)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--port | -p)
		COMPREPLY=($(compgen -f -- "${cur:-/dev/}"))
		return
		;;
	--before)
		COMPREPLY=($(compgen -W "default_reset usb_reset no_reset" -- "$cur"))
		return
		;;
	--after)
		COMPREPLY=($(compgen -W "hard_reset no_reset" -- "$cur"))
		return
		;;
	--state)
		COMPREPLY=($(compgen -W "available reserved sent verified retired" -- "$cur"))
		return
		;;
	--chip | -c)
		COMPREPLY=($(compgen -W "auto esp32 esp32s2 esp32s3 esp32c2 esp32c3 esp32c6 esp32h2" -- "$cur"))
		return
		;;
	--verify)
		if [[ $cmd == flash ]]; then :; else
			COMPREPLY=($(compgen -W "readback md5" -- "$cur"))
			return
		fi
		;;
	esac
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$globals" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi
	local subs="" opts="--help"
	case $cmd in
	nvs)
		subs="generate encrypt generate-key decrypt dump"
		opts="--version --outdir --keygen --inputkey --keyfile --key_protect_hmac --kp_hmac_keygen --kp_hmac_keyfile --kp_hmac_inputkey --json --help"
		;;
	mfg)
		subs="generate generate-key"
		opts="--outdir --fileid --prefix_num --version --keygen --inputkey --key_protect_hmac --kp_hmac_keygen --kp_hmac_keyfile --kp_hmac_inputkey --jobs --help"
		;;
	part)
		subs="show"
		opts="--flash-size --disable-md5sum --no-verify --offset --secure --primary-bootloader-offset --recovery-bootloader-offset --extra-partition-subtypes --json --help"
		;;
	flash)
		subs="chip-id read-mac flash-id write verify read erase read-part efuse-summary chip_id read_mac flash_id write_flash write-flash verify_flash verify-flash read_flash read-flash erase_region erase-region"
		opts="--port --baud --before --after --flash-size --chip --flash_mode --flash-mode --flash_freq --flash-freq --flash_size --json --no-compress --verify --plaintext --offset --help"
		;;
	product)
		subs="add list show"
		opts="--table --partition --version --unique --firmware --nvs-encryption --hmac-key-block --hmac-protect --hmac-seal-key --seal-key --json --help"
		;;
	records)
		subs="import list stats retire check release-lease"
		opts="--product --state --limit --id --seal-key --reason --station --json --reveal --help"
		;;
	audit) opts="--since --mac --product --after --limit --json --help" ;;
	batch)
		subs="add list show pause resume cancel"
		opts="--product --count --ports --json --help"
		;;
	status) opts="--json --help" ;;
	watch) opts="--json --plain --batch --timeout --help" ;;
	secure-cert)
		subs="generate dump"
		opts="--ca-cert --device-cert --private-key --no-integrity --pad --json --show-key --help"
		;;
	certs)
		subs="profile list show export"
		opts="--seal-key --product --state --format --json -o --help"
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	elif [[ -n $subs && -z $sub ]]; then
		COMPREPLY=($(compgen -W "$subs" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
	: "$cmd_at"
}
complete -F _espfab espfab
