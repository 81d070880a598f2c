package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// completionShells are the shells `gnconv completion` writes for.
var completionShells = []string{"bash", "zsh", "fish"}

// argWords are the words a command's arguments are completed from; a
// command not listed here takes files.
var argWords = map[string][]string{
	"completion": completionShells,
}

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: strings.Join(completionShells, "|"),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr(fmt.Errorf("completion takes one shell (%s), got %d arguments", strings.Join(completionShells, ", "), c.NArg()))
			}
			script, err := completionScript(c.Args().First())
			if err != nil {
				return usageErr(err)
			}
			_, err = io.WriteString(c.App.Writer, script)
			return err
		},
	}
}

func manCommand() *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the manual page (roff), as make man writes docs/gnconv.1",
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageErr(fmt.Errorf("man takes no arguments, got %d", c.NArg()))
			}
			page, err := manPage()
			if err != nil {
				return fail(err)
			}
			_, err = io.WriteString(c.App.Writer, page)
			return err
		},
	}
}

// definition is the CLI as defined, before urfave/cli adds its help
// flags and commands at run time: what the scripts and the page describe.
func definition() *cli.App { return newApp(io.Discard, io.Discard) }

// manPage renders the manual page, section 1, from the CLI definition.
func manPage() (string, error) { return definition().ToManWithSection(1) }

// completionScript writes the completion script of one shell from the
// CLI definition.
func completionScript(shell string) (string, error) {
	app := definition()
	switch shell {
	case "bash":
		return bashCompletion(app), nil
	case "zsh":
		return zshCompletion(app), nil
	case "fish":
		return fishCompletion(app)
	}
	return "", fmt.Errorf("completion: unknown shell %s (the shells are %s)", clean(shell), strings.Join(completionShells, ", "))
}

// fishCompletion is urfave/cli's script, which completes commands and
// flags but turns file completion off wherever it completes a flag, plus
// what each command takes: files, or its argument words.
func fishCompletion(app *cli.App) (string, error) {
	script, err := app.ToFishCompletion()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(script)
	for _, c := range app.VisibleCommands() {
		cond := "__fish_seen_subcommand_from " + strings.Join(c.Names(), " ")
		if words := argWords[c.Name]; len(words) > 0 {
			fmt.Fprintf(&b, "complete -c %s -n '%s' -f -a '%s'\n", app.Name, cond, strings.Join(words, " "))
		} else {
			fmt.Fprintf(&b, "complete -c %s -n '%s' -F\n", app.Name, cond)
		}
	}
	return b.String(), nil
}

// flagSpec is one spelling of a flag as typed: --name or -n.
type flagSpec struct {
	name, usage string
	value       bool
}

func flagSpecs(flags []cli.Flag, help bool) []flagSpec {
	var specs []flagSpec
	for _, f := range flags {
		var usage string
		value := false
		if d, ok := f.(cli.DocGenerationFlag); ok {
			usage, value = d.GetUsage(), d.TakesValue()
		}
		for _, n := range f.Names() {
			specs = append(specs, flagSpec{dashed(n), usage, value})
		}
	}
	if help {
		specs = append(specs, flagSpec{"--help", "show help", false})
	}
	sort.SliceStable(specs, func(i, j int) bool { return specs[i].name < specs[j].name })
	return specs
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

func commandNames(app *cli.App) []string {
	var names []string
	for _, c := range app.VisibleCommands() {
		names = append(names, c.Names()...)
	}
	return names
}

// bashCompletion: the first word that is not a flag is the command; its
// flags complete after a dash, its argument words (argWords) or else
// files otherwise, and the value of a flag that takes one is a file.
func bashCompletion(app *cli.App) string {
	var b strings.Builder
	fn := "_" + app.Name
	fmt.Fprintf(&b, "# bash completion for %s, written by `%s completion bash` from its\n", app.Name, app.Name)
	fmt.Fprintf(&b, "# command definitions. Load it with: source <(%s completion bash)\n\n", app.Name)
	fmt.Fprintf(&b, "%s() {\n", fn)
	b.WriteString("    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\" cmd=\"\" i\n")
	b.WriteString("    for ((i = 1; i < COMP_CWORD; i++)); do\n")
	b.WriteString("        if [[ \"${COMP_WORDS[i]}\" != -* ]]; then cmd=\"${COMP_WORDS[i]}\"; break; fi\n")
	b.WriteString("    done\n")
	b.WriteString("    case \"$cmd\" in\n")
	top := append(commandNames(app), "--help", "-h")
	if !app.HideVersion {
		top = append(top, "--version", "-v")
	}
	fmt.Fprintf(&b, "    \"\")\n        COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", strings.Join(top, " "))
	for _, c := range app.VisibleCommands() {
		specs := flagSpecs(c.VisibleFlags(), !c.HideHelp)
		var all, valued []string
		for _, s := range specs {
			all = append(all, s.name)
			if s.value {
				valued = append(valued, s.name)
			}
		}
		fmt.Fprintf(&b, "    %s)\n", strings.Join(c.Names(), "|"))
		if len(valued) > 0 {
			fmt.Fprintf(&b, "        case \"$prev\" in %s) return ;; esac\n", strings.Join(valued, "|"))
		}
		fmt.Fprintf(&b, "        if [[ \"$cur\" == -* ]]; then\n            COMPREPLY=($(compgen -W %q -- \"$cur\"))\n", strings.Join(all, " "))
		if words := argWords[c.Name]; len(words) > 0 {
			fmt.Fprintf(&b, "        else\n            COMPREPLY=($(compgen -W %q -- \"$cur\"))\n", strings.Join(words, " "))
		}
		b.WriteString("        fi ;;\n")
	}
	b.WriteString("    esac\n}\n")
	fmt.Fprintf(&b, "complete -o default -F %s %s\n", fn, app.Name)
	return b.String()
}

// zshQuote escapes text for a single-quoted _arguments or _describe
// spec.
func zshQuote(s string) string {
	s = strings.NewReplacer(`'`, `'\''`, `[`, `\[`, `]`, `\]`, `:`, `\:`, "\n", " ").Replace(s)
	return s
}

// zshCompletion: the command from a list with descriptions, then the
// command's flags and arguments through _arguments.
func zshCompletion(app *cli.App) string {
	var b strings.Builder
	fn := "_" + app.Name
	fmt.Fprintf(&b, "#compdef %s\n# zsh completion for %s, written by `%s completion zsh` from its\n", app.Name, app.Name, app.Name)
	fmt.Fprintf(&b, "# command definitions. Save it as %s in a directory of $fpath, or\n# load it with: source <(%s completion zsh)\n\n", fn, app.Name)
	fmt.Fprintf(&b, "%s() {\n", fn)
	b.WriteString("    local -a commands\n    commands=(\n")
	for _, c := range app.VisibleCommands() {
		for _, n := range c.Names() {
			fmt.Fprintf(&b, "        '%s:%s'\n", zshQuote(n), zshQuote(c.Usage))
		}
	}
	b.WriteString("    )\n")
	b.WriteString("    if (( CURRENT == 2 )); then\n")
	fmt.Fprintf(&b, "        _describe -t commands '%s command' commands\n        return\n    fi\n", app.Name)
	b.WriteString("    case $words[2] in\n")
	for _, c := range app.VisibleCommands() {
		fmt.Fprintf(&b, "    %s)\n        _arguments -S \\\n", strings.Join(c.Names(), "|"))
		for _, s := range flagSpecs(c.VisibleFlags(), !c.HideHelp) {
			if s.value {
				fmt.Fprintf(&b, "            '%s=[%s]:value:_files' \\\n", s.name, zshQuote(s.usage))
			} else {
				fmt.Fprintf(&b, "            '%s[%s]' \\\n", s.name, zshQuote(s.usage))
			}
		}
		if words := argWords[c.Name]; len(words) > 0 {
			fmt.Fprintf(&b, "            '1:argument:(%s)' ;;\n", strings.Join(words, " "))
		} else {
			b.WriteString("            '*:file:_files' ;;\n")
		}
	}
	b.WriteString("    esac\n}\n\n")
	fmt.Fprintf(&b, "if [[ $funcstack[1] == %s ]]; then\n    %s \"$@\"\nelse\n    compdef %s %s\nfi\n", fn, fn, fn, app.Name)
	return b.String()
}
