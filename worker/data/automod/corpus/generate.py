#!/usr/bin/env python3
"""Writes Kyuta's labelled toxicity corpus, `corpus.tsv`, next to this script.

    python3 worker/data/automod/corpus/generate.py

Standard library only; the output is the same on every run (fixed seed), so the committed
`corpus.tsv` can be checked with `git diff` after running it.

Every message comes from a template written for one language and one category, filled from
that language's vocabulary. The split is made per template, not per message: within each
(language, category) the templates are shuffled with the seed and the first ones go to
`test`, the next to `dev`, the rest to `train`. A phrasing in the test set therefore never
appears in training, only the vocabulary the templates share (insult words, group names,
game and place names). Obfuscated copies (leetspeak, spacing, look-alike letters,
zero-width characters, repeated letters, self-censoring) inherit the split of the message
they were made from, and are made for clean messages too, so obfuscation alone says nothing
about the label. Short everyday messages (greetings, thanks) are in the clean templates
because a message of a few words reads as addressed to someone.

Columns: split, lang, category, template id, variant (`plain` or the obfuscation), text.
"""

import os
import random

SEED = 18
PER_TEMPLATE = 6
OBFUSCATED_SHARE = 0.22

CATEGORIES = [
    "clean",
    "profanity",
    "insult",
    "harassment",
    "threat",
    "self_harm",
    "identity_hate",
    "sexual",
]

# ---------------------------------------------------------------------------------------
# Vocabulary per language. Slots: {N} insult with article, {B} bare insult noun, {A} insult
# adjective, {M} who is addressed, {G} a group, {X} a swear interjection, {F} a swear
# intensifier, {T} a game or chat thing, {P} a place name, {W} a hard clean word.
# ---------------------------------------------------------------------------------------

VOCAB = {
    "en": {
        "N": ["an idiot", "a moron", "a loser", "a clown", "a dumbass", "a piece of shit",
              "a prick", "an asshole", "a bitch", "a waste of space", "a retard", "a joke",
              "a dickhead", "a twat", "a cunt", "a pathetic little worm"],
        "B": ["idiot", "moron", "loser", "clown", "dumbass", "prick", "asshole", "bitch",
              "dickhead", "twat", "cunt", "jackass", "imbecile", "muppet"],
        "A": ["stupid", "worthless", "pathetic", "useless", "brainless", "disgusting",
              "braindead", "fat", "ugly", "dumb"],
        "M": ["<@482913004411> ", "", "bro ", "dude ", "Kevin ", "mate ", "hey ", "@Sam "],
        "G": ["immigrants", "muslims", "jews", "gay people", "trans people", "black people",
              "women", "mexicans", "refugees", "asians"],
        "X": ["fuck", "shit", "holy shit", "damn", "fucking hell", "bloody hell", "wtf",
              "goddamn"],
        "F": ["fucking", "damn", "bloody", "goddamn", "shitty"],
        "T": ["boss", "raid", "level", "patch", "ranked match", "dungeon", "build",
              "update", "server", "quest"],
        "P": ["Scunthorpe", "Penistone", "Middlesex", "Sussex", "Cockermouth", "Shitterton",
              "Essex", "Dickinson county", "Clitheroe", "Twatt in Orkney"],
        "W": ["breast cancer", "a rectal exam", "penetration testing", "the child process",
              "a kill switch", "the cocktail menu", "an analysis", "the assassin class",
              "a sextant", "erectile dysfunction"],
    },
    "de": {
        "N": ["ein Idiot", "ein Vollidiot", "ein Arschloch", "ein Wichser", "ein Spast",
              "ein Trottel", "ein Penner", "ein Hurensohn", "ein Versager", "ein Lappen",
              "eine dumme Kuh", "ein Opfer", "ein Bastard", "ein Hurensohn"],
        "B": ["Idiot", "Vollidiot", "Arschloch", "Wichser", "Spast", "Trottel", "Penner",
              "Hurensohn", "Versager", "Lappen", "Missgeburt", "Depp", "Schwachkopf"],
        "A": ["dumm", "nutzlos", "erbärmlich", "hässlich", "fett", "behindert", "wertlos",
              "hirnlos", "widerlich", "peinlich"],
        "M": ["<@482913004411> ", "", "Alter ", "digga ", "Jonas ", "hey ", "@Lena ",
              "Bruder "],
        "G": ["Ausländer", "Muslime", "Juden", "Schwule", "Flüchtlinge", "Frauen",
              "Türken", "Transleute", "Schwarze", "Polen"],
        "X": ["Scheiße", "verdammt", "Mist", "Fuck", "Scheiß drauf", "verdammte Scheiße",
              "Kacke", "Alter Scheiße"],
        "F": ["verdammt", "scheiß", "verfickt", "verdammter", "beschissen"],
        "T": ["Boss", "Raid", "Level", "Patch", "Ranked-Match", "Dungeon", "Build",
              "Update", "Server", "Quest"],
        "P": ["Fucking in Österreich", "Kotzen", "Wixhausen", "Pissen", "Faulenrost",
              "Fickmühlen", "Hölle bei Naila", "Affendorf", "Titting", "Tittenkofen"],
        "W": ["Brustkrebs", "eine Darmspiegelung", "Penetrationstests", "den Kindprozess",
              "einen Notausschalter", "die Cocktailkarte", "die Analyse",
              "die Assassinen-Klasse", "den Sextanten", "Erektionsstörungen"],
    },
    "fr": {
        "N": ["un connard", "une conne", "un abruti", "un crétin", "une merde", "un bouffon",
              "un débile", "un imbécile", "un enculé", "une salope", "un naze", "un fils de pute",
              "un gros con", "une pute"],
        "B": ["connard", "abruti", "crétin", "bouffon", "débile", "imbécile", "enculé",
              "salope", "naze", "con", "idiot", "minable", "tocard"],
        "A": ["stupide", "inutile", "pathétique", "moche", "gros", "débile", "minable",
              "nul", "dégueulasse", "attardé"],
        "M": ["<@482913004411> ", "", "mec ", "frérot ", "Lucas ", "hé ", "@Chloé ", "wesh "],
        "G": ["les immigrés", "les musulmans", "les juifs", "les homos", "les arabes",
              "les femmes", "les noirs", "les réfugiés", "les trans", "les roms"],
        "X": ["putain", "merde", "bordel", "putain de merde", "fait chier", "oh merde",
              "bordel de merde", "punaise"],
        "F": ["putain de", "foutu", "saloperie de", "satané", "merde de"],
        "T": ["boss", "raid", "niveau", "patch", "match classé", "donjon", "build",
              "mise à jour", "serveur", "quête"],
        "P": ["Bitche", "Condom", "Montcuq", "Anus dans l'Yonne", "Tourtour", "Sainte-Verge",
              "Mouillepied", "Poil", "Vatan", "Cocu"],
        "W": ["le cancer du sein", "un toucher rectal", "des tests d'intrusion",
              "le processus enfant", "un arrêt d'urgence", "la carte des cocktails",
              "l'analyse", "la classe assassin", "un sextant", "les troubles de l'érection"],
    },
    "es": {
        "N": ["un imbécil", "un idiota", "un gilipollas", "un pendejo", "un cabrón",
              "una zorra", "un subnormal", "un mierda", "un payaso", "un inútil",
              "un hijo de puta", "un pringado", "una puta", "un estúpido"],
        "B": ["imbécil", "idiota", "gilipollas", "pendejo", "cabrón", "zorra", "subnormal",
              "payaso", "inútil", "tarado", "mamón", "capullo", "estúpido"],
        "A": ["estúpido", "inútil", "patético", "feo", "gordo", "retrasado", "asqueroso",
              "miserable", "tonto", "ridículo"],
        "M": ["<@482913004411> ", "", "tío ", "wey ", "Diego ", "oye ", "@Lucía ", "bro "],
        "G": ["los inmigrantes", "los musulmanes", "los judíos", "los maricones",
              "los gitanos", "las mujeres", "los negros", "los refugiados", "los sudacas",
              "los trans"],
        "X": ["joder", "mierda", "hostia", "coño", "puta madre", "me cago en todo",
              "carajo", "qué mierda"],
        "F": ["puto", "jodido", "maldito", "de mierda", "pinche"],
        "T": ["jefe", "raid", "nivel", "parche", "partida clasificatoria", "mazmorra",
              "build", "actualización", "servidor", "misión"],
        "P": ["Cabrones en Asturias", "Tetas de Viana", "Villapene", "Matapozuelos",
              "Mearenas", "Sexmo", "Culo de Perro", "Fuentecaliente", "Pollos", "Villaputas"],
        "W": ["el cáncer de mama", "un tacto rectal", "pruebas de penetración",
              "el proceso hijo", "un interruptor de apagado", "la carta de cócteles",
              "el análisis", "la clase asesino", "un sextante", "la disfunción eréctil"],
    },
    "pt": {
        "N": ["um idiota", "um imbecil", "um otário", "um babaca", "um arrombado",
              "uma vagabunda", "um merda", "um palhaço", "um inútil", "um filho da puta",
              "um corno", "uma puta", "um retardado", "um lixo"],
        "B": ["idiota", "imbecil", "otário", "babaca", "arrombado", "vagabunda", "palhaço",
              "inútil", "corno", "retardado", "lixo", "trouxa", "burro"],
        "A": ["burro", "inútil", "patético", "feio", "gordo", "retardado", "nojento",
              "ridículo", "escroto", "lerdo"],
        "M": ["<@482913004411> ", "", "mano ", "cara ", "Gabriel ", "ei ", "@Ana ", "véi "],
        "G": ["os imigrantes", "os muçulmanos", "os judeus", "os gays", "os nordestinos",
              "as mulheres", "os negros", "os refugiados", "os trans", "os índios"],
        "X": ["porra", "merda", "caralho", "puta que pariu", "que merda", "droga",
              "puta merda", "vai se ferrar"],
        "F": ["porra de", "merda de", "maldito", "desgraçado de", "bosta de"],
        "T": ["chefão", "raid", "nível", "patch", "partida ranqueada", "masmorra", "build",
              "atualização", "servidor", "missão"],
        "P": ["Piripiri", "Xique-Xique", "Passa Quatro", "Pau Grande", "Rio Bonito",
              "Buraco Fundo", "Cuité", "Venha-Ver", "Varre-Sai", "Passa e Fica"],
        "W": ["o câncer de mama", "um exame de toque retal", "testes de penetração",
              "o processo filho", "um botão de emergência", "o cardápio de drinks",
              "a análise", "a classe assassino", "um sextante", "a disfunção erétil"],
    },
}

# ---------------------------------------------------------------------------------------
# Templates per language and category. Write each one as a distinct phrasing: the split
# holds out whole templates.
# ---------------------------------------------------------------------------------------

TEMPLATES = {
    "en": {
        "clean": [
            "{M}can someone help me kill this {T}? it keeps one-shotting me",
            "we finally killed the {T} after three hours, gg everyone",
            "someone called me {N} in my DMs, can a mod check?",
            "{M}he keeps calling people '{B}' in voice chat, please look into it",
            "I grew up in {P}, it's a quiet place",
            "anyone else driving through {P} this weekend?",
            "my aunt is getting treated for {W}, send good thoughts",
            "the doc on {W} was really useful for my thesis",
            "as a queer person I love how welcoming this server is",
            "oh great, the {T} got nerfed again, just what I wanted",
            "{M}you're killing me lol, that joke was perfect",
            "I'm such an idiot, I left my charger at work",
            "this {T} is insanely hard but I love it",
            "{M}what time is the meeting tomorrow?",
            "thanks for the help yesterday, you're a legend",
            "the new {T} is out, patch notes in #news",
            "I'm going to destroy my backlog this weekend",
            "reporting a user who told me to kys, screenshot attached",
            "{M}did you finish the homework? I'm stuck on question 4",
            "lol that speedrun was sick, you absolute madman",
            "can we please keep the chat clean, there are kids here",
            "the dog ate my sandwich again, unbelievable",
            "I could murder a pizza right now",
            "{M}shoot me a message when you're online",
            "{M}hello there",
            "good morning everyone",
            "{M}thanks!",
            "gg wp",
            "{M}ok see you later",
            "lol same",
            "{M}nice one",
            "brb",
            "{M}you too",
            "anyone here?",
        ],
        "profanity": [
            "{X}, the {T} crashed again",
            "this {T} is so {F} hard",
            "{X} I missed the bus again",
            "ugh {X}, forgot my password for the third time",
            "that was {F} amazing, what a play",
            "{X}!! we won the {T}",
            "my {F} internet keeps dropping",
            "{X}, spilled coffee all over my keyboard",
            "who designed this {F} {T}, it makes no sense",
            "{X} it's hot today",
        ],
        "insult": [
            "{M}you're {N}",
            "{M}shut up you {A} {B}",
            "{M}you are the most {A} {B} I've ever met",
            "{M}nobody asked, {B}",
            "{M}what a {A} {B} you are",
            "{M}go back to school, {B}",
            "{M}you play like {N}",
            "{M}ur such {N} lmao",
            "{M}imagine being this {A}",
            "{M}your mom raised {N}",
        ],
        "harassment": [
            "{M}you should just disappear forever, the world would be better",
            "{M}nobody here likes you, just leave",
            "{M}everyone laughs at you behind your back",
            "{M}stop posting, no one wants to hear from you ever again",
            "{M}I'm going to make every day of your life miserable",
            "{M}you don't belong here and you never will",
            "{M}I'll keep making new accounts until you quit this server",
            "{M}honestly your existence is an embarrassment",
            "{M}we all voted, you're not welcome anymore",
            "{M}everyone would be happier if you were never born",
        ],
        "threat": [
            "{M}I will find where you live and hurt you",
            "{M}i'm going to ddos your house and leak your address",
            "{M}I know your address, see you tonight",
            "{M}watch your back, I'm coming for you",
            "{M}I'll break every bone in your body",
            "{M}I'm going to send a swat team to your house",
            "{M}posting your real name and school tomorrow, enjoy",
            "{M}one more word and I'll stab you",
            "{M}I'll call the police with a fake hostage report at your place",
            "{M}your family won't be safe after what you did",
            "{M}I'm going to shoot you when I find you",
        ],
        "self_harm": [
            "{M}nobody will miss you if you're gone, just end it",
            "{M}kys",
            "{M}go kill yourself",
            "{M}do everyone a favor and hang yourself",
            "{M}just jump off a bridge already",
            "{M}you should end your life, seriously",
            "{M}why are you still alive? just do it",
            "{M}drink bleach and save us all the trouble",
            "{M}cut deeper next time",
            "{M}the world would be better if you killed yourself",
        ],
        "identity_hate": [
            "{G} are vermin and should be kicked out",
            "all {G} are disgusting animals",
            "{G} are ruining this country",
            "I hate {G}, they should all die",
            "{G} don't deserve rights",
            "{G} are subhuman, simple as that",
            "gas the {G}",
            "never trust {G}, they are all criminals",
            "{G} should be banned from this server, they're a disease",
            "we need to get rid of {G} for good",
        ],
        "sexual": [
            "{M}send me nudes",
            "{M}show me your body, I know you want to",
            "{M}I want to see you naked",
            "{M}how big are your tits",
            "{M}come sit on my lap and I'll make you moan",
            "{M}I'm touching myself thinking about you",
            "{M}let's have sex, I know where you live",
            "{M}take off your clothes on cam",
            "{M}what are you wearing right now? be honest",
            "{M}I'd fuck you so hard",
        ],
    },
    "de": {
        "clean": [
            "{M}kann mir wer helfen, den {T} zu töten? der macht mich immer fertig",
            "wir haben den {T} nach drei Stunden endlich gekillt, gg",
            "jemand hat mich per DM {N} genannt, kann ein Mod das prüfen?",
            "{M}er nennt Leute im Voice ständig '{B}', bitte schaut euch das an",
            "ich komme aus {P}, echt ruhig dort",
            "fährt am Wochenende noch jemand durch {P}?",
            "meine Tante wird wegen {W} behandelt, drückt die Daumen",
            "der Artikel über {W} hat mir für die Uni echt geholfen",
            "als queere Person finde ich den Server super offen",
            "na toll, der {T} wurde schon wieder generft, genau was ich wollte",
            "{M}ich lach mich tot, der Witz war perfekt",
            "ich bin so ein Idiot, hab mein Ladekabel vergessen",
            "der {T} ist brutal schwer, aber ich liebe es",
            "{M}wann ist das Treffen morgen?",
            "danke für die Hilfe gestern, du bist eine Legende",
            "das neue {T} ist raus, Patchnotes in #news",
            "am Wochenende mach ich meinen Pile of Shame platt",
            "ich melde einen User, der mir gesagt hat ich soll mich umbringen, Screenshot anbei",
            "{M}hast du die Hausaufgaben fertig? ich häng bei Aufgabe 4",
            "lol der Speedrun war krank, du Wahnsinniger",
            "könnt ihr bitte sauber bleiben im Chat, hier sind Kinder",
            "der Hund hat schon wieder mein Brot gefressen",
            "für eine Pizza würde ich gerade morden",
            "{M}schreib mir, wenn du online bist",
            "{M}hallo zusammen",
            "guten Morgen alle",
            "{M}danke!",
            "gg wp",
            "{M}ok bis später",
            "lol same",
            "{M}nice, gut gemacht",
            "bin gleich wieder da",
            "{M}dir auch",
            "jemand da?",
        ],
        "profanity": [
            "{X}, der {T} ist schon wieder abgestürzt",
            "dieser {T} ist so {F} schwer",
            "{X}, Bus schon wieder verpasst",
            "ugh {X}, zum dritten Mal das Passwort vergessen",
            "das war {F} gut, was für ein Spielzug",
            "{X}!! wir haben den {T} geschafft",
            "mein {F} Internet bricht dauernd ab",
            "{X}, Kaffee über die ganze Tastatur",
            "wer hat sich diesen {F} {T} ausgedacht, das ergibt keinen Sinn",
            "{X} ist das heiß heute",
        ],
        "insult": [
            "{M}du bist {N}",
            "{M}halt die Fresse, du {A}er {B}",
            "{M}du bist der {A}ste {B}, den ich kenne",
            "{M}hat keiner gefragt, {B}",
            "{M}was bist du nur für {N}",
            "{M}geh zurück in die Schule, {B}",
            "{M}du spielst wie {N}",
            "{M}du bist so {A}, echt",
            "{M}du bist ein verdammter {B}",
            "{M}deine Mutter hat {N} großgezogen",
        ],
        "harassment": [
            "{M}verschwinde einfach für immer, die Welt wäre besser ohne dich",
            "{M}niemand hier mag dich, hau einfach ab",
            "{M}alle lachen hinter deinem Rücken über dich",
            "{M}hör auf zu posten, keiner will je wieder was von dir hören",
            "{M}ich mache dir jeden Tag deines Lebens zur Hölle",
            "{M}du gehörst nicht hierher und wirst es nie",
            "{M}ich mache so lange neue Accounts, bis du den Server verlässt",
            "{M}ehrlich, dass es dich gibt ist peinlich",
            "{M}wir haben abgestimmt, du bist hier nicht mehr erwünscht",
            "{M}alle wären glücklicher, wenn du nie geboren wärst",
        ],
        "threat": [
            "{M}ich finde raus wo du wohnst und dann tu ich dir weh",
            "{M}ich ddos dein Haus und leake deine Adresse",
            "{M}ich kenne deine Adresse, bis heute Abend",
            "{M}pass auf, ich komme dich holen",
            "{M}ich breche dir alle Knochen",
            "{M}ich schicke dir das SEK nach Hause",
            "{M}morgen poste ich deinen echten Namen und deine Schule, viel Spaß",
            "{M}noch ein Wort und ich stech dich ab",
            "{M}ich ruf die Polizei mit einer falschen Geiselnahme bei dir an",
            "{M}deine Familie ist nach der Sache nicht mehr sicher",
            "{M}ich knall dich ab, wenn ich dich finde",
        ],
        "self_harm": [
            "{M}niemand wird dich vermissen, mach einfach Schluss",
            "{M}bring dich um",
            "{M}geh dich umbringen",
            "{M}tu uns allen einen Gefallen und häng dich auf",
            "{M}spring endlich von einer Brücke",
            "{M}du solltest dein Leben beenden, ernsthaft",
            "{M}warum lebst du noch? mach es einfach",
            "{M}trink Bleiche und erspar uns allen den Ärger",
            "{M}schneid nächstes Mal tiefer",
            "{M}die Welt wäre besser, wenn du dich umbringst",
        ],
        "identity_hate": [
            "{G} sind Ungeziefer und gehören rausgeworfen",
            "alle {G} sind ekelhafte Tiere",
            "{G} machen dieses Land kaputt",
            "ich hasse {G}, die sollen alle sterben",
            "{G} verdienen keine Rechte",
            "{G} sind Untermenschen, ganz einfach",
            "vergast die {G}",
            "trau niemals {G}, das sind alles Verbrecher",
            "{G} sollten vom Server gebannt werden, die sind eine Seuche",
            "wir müssen die {G} endgültig loswerden",
        ],
        "sexual": [
            "{M}schick mir Nacktbilder",
            "{M}zeig mir deinen Körper, ich weiß, dass du willst",
            "{M}ich will dich nackt sehen",
            "{M}wie groß sind deine Titten",
            "{M}setz dich auf meinen Schoß, ich bring dich zum Stöhnen",
            "{M}ich fass mich an und denk dabei an dich",
            "{M}lass uns Sex haben, ich weiß wo du wohnst",
            "{M}zieh dich vor der Kamera aus",
            "{M}was hast du gerade an? sei ehrlich",
            "{M}ich würde dich so hart ficken",
        ],
    },
    "fr": {
        "clean": [
            "{M}quelqu'un peut m'aider à tuer ce {T} ? il me one-shot à chaque fois",
            "on a enfin tué le {T} après trois heures, gg tout le monde",
            "quelqu'un m'a traité d'{B} en MP, un modo peut vérifier ?",
            "{M}il traite tout le monde de '{B}' en vocal, regardez svp",
            "j'ai grandi à {P}, c'est calme là-bas",
            "quelqu'un passe par {P} ce week-end ?",
            "ma tante est soignée pour {W}, pensez à elle",
            "la doc sur {W} m'a bien aidé pour mon mémoire",
            "en tant que personne queer j'adore l'ambiance du serveur",
            "génial, le {T} a encore été nerf, exactement ce que je voulais",
            "{M}tu me tues mdr, cette blague était parfaite",
            "je suis vraiment trop con, j'ai oublié mon chargeur au boulot",
            "ce {T} est super dur mais je kiffe",
            "{M}la réunion c'est à quelle heure demain ?",
            "merci pour l'aide hier, t'es une légende",
            "la nouvelle {T} est sortie, patch notes dans #news",
            "je vais exploser ma pile de jeux ce week-end",
            "je signale un membre qui m'a dit de me suicider, capture jointe",
            "{M}t'as fini les devoirs ? je bloque sur l'exercice 4",
            "mdr ce speedrun était ouf, t'es un malade",
            "on peut garder le chat propre svp, il y a des gamins ici",
            "le chien a encore mangé mon sandwich",
            "je tuerais pour une pizza là",
            "{M}envoie-moi un message quand t'es co",
            "{M}salut tout le monde",
            "bonjour à tous",
            "{M}merci !",
            "gg wp",
            "{M}ok à plus tard",
            "mdr pareil",
            "{M}bien joué",
            "je reviens",
            "{M}toi aussi",
            "quelqu'un est là ?",
        ],
        "profanity": [
            "{X}, le {T} a encore planté",
            "ce {T} est {F} dur",
            "{X}, j'ai encore raté le bus",
            "{X}, j'ai oublié mon mot de passe pour la troisième fois",
            "c'était {F} beau, quelle action",
            "{X} !! on a battu le {T}",
            "ma {F} connexion saute tout le temps",
            "{X}, j'ai renversé du café sur le clavier",
            "qui a conçu ce {F} {T}, ça n'a aucun sens",
            "{X} qu'il fait chaud aujourd'hui",
        ],
        "insult": [
            "{M}t'es qu'{N}",
            "{M}ferme ta gueule espèce de {B}",
            "{M}t'es le plus {A} des {B}s que je connaisse",
            "{M}personne t'a demandé, {B}",
            "{M}quel {B} {A} tu fais",
            "{M}retourne à l'école, {B}",
            "{M}tu joues comme {N}",
            "{M}t'es tellement {A} mdr",
            "{M}sale {B}",
            "{M}ta mère a élevé {N}",
        ],
        "harassment": [
            "{M}tu devrais juste disparaître pour toujours, le monde irait mieux",
            "{M}personne ici ne t'aime, casse-toi",
            "{M}tout le monde se moque de toi dans ton dos",
            "{M}arrête de poster, personne ne veut plus jamais t'entendre",
            "{M}je vais faire de chaque jour de ta vie un enfer",
            "{M}t'as rien à faire ici et ça changera jamais",
            "{M}je vais créer des comptes jusqu'à ce que tu quittes le serveur",
            "{M}franchement ton existence est une honte",
            "{M}on a voté, t'es plus le bienvenu",
            "{M}tout le monde serait plus heureux si t'étais jamais né",
        ],
        "threat": [
            "{M}je vais trouver où tu habites et te faire du mal",
            "{M}je vais ddos ta maison et balancer ton adresse",
            "{M}je connais ton adresse, à ce soir",
            "{M}fais gaffe à toi, je viens te chercher",
            "{M}je vais te briser tous les os",
            "{M}je vais envoyer le GIGN chez toi",
            "{M}demain je publie ton vrai nom et ton lycée, bonne chance",
            "{M}encore un mot et je te plante",
            "{M}je vais appeler les flics avec une fausse prise d'otage chez toi",
            "{M}ta famille ne sera plus en sécurité après ce que t'as fait",
            "{M}je vais te buter quand je te trouve",
        ],
        "self_harm": [
            "{M}personne ne te regrettera si tu pars, finis-en",
            "{M}va te suicider",
            "{M}tue-toi",
            "{M}rends service à tout le monde et pends-toi",
            "{M}saute d'un pont une bonne fois",
            "{M}tu devrais mettre fin à tes jours, sérieux",
            "{M}pourquoi t'es encore en vie ? fais-le",
            "{M}bois de la javel et épargne-nous",
            "{M}coupe plus profond la prochaine fois",
            "{M}le monde irait mieux si tu te tuais",
        ],
        "identity_hate": [
            "{G} sont de la vermine, il faut les virer",
            "tous {G} sont des animaux dégoûtants",
            "{G} détruisent ce pays",
            "je déteste {G}, qu'ils crèvent tous",
            "{G} ne méritent aucun droit",
            "{G} sont des sous-hommes, c'est tout",
            "il faut gazer {G}",
            "faut jamais faire confiance à {G}, tous des criminels",
            "{G} devraient être bannis du serveur, c'est une maladie",
            "il faut se débarrasser d'{G} pour de bon",
        ],
        "sexual": [
            "{M}envoie-moi des nudes",
            "{M}montre-moi ton corps, je sais que t'en as envie",
            "{M}je veux te voir toute nue",
            "{M}elles sont grosses comment tes seins",
            "{M}viens sur mes genoux, je vais te faire gémir",
            "{M}je me touche en pensant à toi",
            "{M}on couche ensemble, je sais où tu habites",
            "{M}enlève tes vêtements devant la cam",
            "{M}tu portes quoi là ? sois honnête",
            "{M}je te baiserais tellement fort",
        ],
    },
    "es": {
        "clean": [
            "{M}¿alguien me ayuda a matar a este {T}? me revienta cada vez",
            "por fin matamos al {T} después de tres horas, gg a todos",
            "alguien me llamó {B} por privado, ¿un mod puede revisar?",
            "{M}no para de llamar '{B}' a la gente en el canal de voz, miradlo por favor",
            "crecí en {P}, es un sitio tranquilo",
            "¿alguien pasa por {P} este finde?",
            "a mi tía la están tratando por {W}, mandadle buena energía",
            "el documento sobre {W} me sirvió mucho para la tesis",
            "como persona queer me encanta lo acogedor que es el servidor",
            "genial, otra vez nerfearon el {T}, justo lo que quería",
            "{M}me muero de risa, ese chiste fue perfecto",
            "soy tan tonto, me dejé el cargador en el trabajo",
            "este {T} es dificilísimo pero me encanta",
            "{M}¿a qué hora es la reunión mañana?",
            "gracias por la ayuda de ayer, eres una leyenda",
            "ya salió la nueva {T}, notas del parche en #news",
            "este finde voy a reventar mi lista de pendientes",
            "reporto a un usuario que me dijo que me suicidara, adjunto captura",
            "{M}¿terminaste los deberes? me atasqué en la pregunta 4",
            "jaja ese speedrun fue una locura, eres un crack",
            "podemos mantener el chat limpio por favor, hay niños",
            "el perro se comió mi bocadillo otra vez",
            "mataría por una pizza ahora mismo",
            "{M}escríbeme cuando estés conectado",
            "{M}hola a todos",
            "buenos días a todos",
            "{M}¡gracias!",
            "gg wp",
            "{M}vale, hasta luego",
            "jaja igual",
            "{M}bien hecho",
            "ahora vuelvo",
            "{M}tú también",
            "¿hay alguien?",
        ],
        "profanity": [
            "{X}, el {T} se ha vuelto a colgar",
            "este {T} es {F} difícil",
            "{X}, perdí el autobús otra vez",
            "{X}, olvidé la contraseña por tercera vez",
            "eso fue {F} increíble, qué jugada",
            "{X}!! ganamos la {T}",
            "mi {F} internet se cae todo el rato",
            "{X}, se me cayó el café en el teclado",
            "quién diseñó este {T} {F}, no tiene sentido",
            "{X} qué calor hace hoy",
        ],
        "insult": [
            "{M}eres {N}",
            "{M}cállate, {B} {A}",
            "{M}eres el {B} más {A} que conozco",
            "{M}nadie te preguntó, {B}",
            "{M}eres un {B} de mierda",
            "{M}vuelve al colegio, {B}",
            "{M}juegas como {N}",
            "{M}eres tan {A} jajaja",
            "{M}menudo {B} estás hecho",
            "{M}tu madre crió a {N}",
        ],
        "harassment": [
            "{M}deberías desaparecer para siempre, el mundo sería mejor",
            "{M}aquí nadie te quiere, vete ya",
            "{M}todos se ríen de ti a tus espaldas",
            "{M}deja de publicar, nadie quiere volver a leerte nunca",
            "{M}voy a hacer que cada día de tu vida sea un infierno",
            "{M}no perteneces aquí y nunca lo harás",
            "{M}voy a crear cuentas nuevas hasta que te vayas del servidor",
            "{M}sinceramente tu existencia es una vergüenza",
            "{M}votamos todos, ya no eres bienvenido",
            "{M}todos serían más felices si nunca hubieras nacido",
        ],
        "threat": [
            "{M}voy a encontrar dónde vives y hacerte daño",
            "{M}voy a hacerle ddos a tu casa y filtrar tu dirección",
            "{M}sé tu dirección, nos vemos esta noche",
            "{M}cuidado, voy a por ti",
            "{M}te voy a romper todos los huesos",
            "{M}voy a mandar a los geos a tu casa",
            "{M}mañana publico tu nombre real y tu instituto, disfruta",
            "{M}una palabra más y te apuñalo",
            "{M}voy a llamar a la policía con un secuestro falso en tu casa",
            "{M}tu familia no estará a salvo después de lo que hiciste",
            "{M}te voy a pegar un tiro cuando te encuentre",
        ],
        "self_harm": [
            "{M}nadie te echará de menos si te vas, acaba con todo",
            "{M}mátate",
            "{M}ve a suicidarte",
            "{M}haznos un favor a todos y ahórcate",
            "{M}tírate de un puente de una vez",
            "{M}deberías quitarte la vida, en serio",
            "{M}¿por qué sigues vivo? hazlo ya",
            "{M}bébete la lejía y ahórranos el problema",
            "{M}córtate más hondo la próxima vez",
            "{M}el mundo sería mejor si te mataras",
        ],
        "identity_hate": [
            "{G} son una plaga y hay que echarlos",
            "todos {G} son animales asquerosos",
            "{G} están destruyendo este país",
            "odio a {G}, que se mueran todos",
            "{G} no merecen derechos",
            "{G} son infrahumanos, así de simple",
            "hay que gasear a {G}",
            "nunca confíes en {G}, todos son criminales",
            "{G} deberían estar baneados del servidor, son una enfermedad",
            "tenemos que librarnos de {G} para siempre",
        ],
        "sexual": [
            "{M}mándame nudes",
            "{M}enséñame tu cuerpo, sé que quieres",
            "{M}quiero verte desnuda",
            "{M}qué tan grandes son tus tetas",
            "{M}siéntate en mis piernas y te hago gemir",
            "{M}me estoy tocando pensando en ti",
            "{M}vamos a follar, sé dónde vives",
            "{M}quítate la ropa en la cámara",
            "{M}¿qué llevas puesto ahora? sé sincera",
            "{M}te follaría muy duro",
        ],
    },
    "pt": {
        "clean": [
            "{M}alguém me ajuda a matar esse {T}? ele me mata toda vez",
            "finalmente matamos o {T} depois de três horas, gg galera",
            "alguém me chamou de {B} no privado, um mod pode verificar?",
            "{M}ele fica chamando todo mundo de '{B}' no canal de voz, deem uma olhada",
            "cresci em {P}, lá é tranquilo",
            "alguém vai passar por {P} nesse fim de semana?",
            "minha tia está tratando {W}, mandem boas energias",
            "o material sobre {W} me ajudou muito no TCC",
            "como pessoa queer eu amo como o servidor é acolhedor",
            "que ótimo, nerfaram o {T} de novo, exatamente o que eu queria",
            "{M}tô morrendo de rir, essa piada foi perfeita",
            "sou muito burro, esqueci o carregador no trabalho",
            "esse {T} é difícil demais mas eu adoro",
            "{M}que horas é a reunião amanhã?",
            "valeu pela ajuda ontem, você é uma lenda",
            "saiu a nova {T}, notas do patch no #news",
            "vou zerar meu backlog nesse fim de semana",
            "denunciando um usuário que me mandou me matar, print em anexo",
            "{M}terminou a lição? travei na questão 4",
            "kkkk esse speedrun foi insano, você é monstro",
            "dá pra manter o chat limpo por favor, tem criança aqui",
            "o cachorro comeu meu sanduíche de novo",
            "eu mataria por uma pizza agora",
            "{M}me chama quando estiver online",
            "{M}olá pessoal",
            "bom dia galera",
            "{M}valeu!",
            "gg wp",
            "{M}beleza, até mais",
            "kkkk igual",
            "{M}boa, mandou bem",
            "já volto",
            "{M}você também",
            "tem alguém aí?",
        ],
        "profanity": [
            "{X}, o {T} travou de novo",
            "esse {T} é difícil pra {X}",
            "{X}, perdi o ônibus de novo",
            "{X}, esqueci a senha pela terceira vez",
            "isso foi lindo pra {X}, que jogada",
            "{X}!! ganhamos a {T}",
            "essa {F} internet cai toda hora",
            "{X}, derrubei café no teclado",
            "quem fez essa {F} {T}, não faz sentido",
            "{X} que calor hoje",
        ],
        "insult": [
            "{M}você é {N}",
            "{M}cala a boca, seu {B} {A}",
            "{M}você é o {B} mais {A} que eu conheço",
            "{M}ninguém perguntou, {B}",
            "{M}vc é um {B} do caralho",
            "{M}volta pra escola, {B}",
            "{M}você joga igual {N}",
            "{M}vc é muito {A} kkkk",
            "{M}seu {B}",
            "{M}sua mãe criou {N}",
        ],
        "harassment": [
            "{M}você devia sumir pra sempre, o mundo seria melhor",
            "{M}ninguém aqui gosta de você, vai embora",
            "{M}todo mundo ri de você pelas costas",
            "{M}para de postar, ninguém quer te ouvir nunca mais",
            "{M}vou transformar cada dia da sua vida num inferno",
            "{M}você não pertence a esse lugar e nunca vai pertencer",
            "{M}vou criar contas novas até você sair do servidor",
            "{M}sinceramente sua existência é uma vergonha",
            "{M}todo mundo votou, você não é mais bem-vindo",
            "{M}todo mundo seria mais feliz se você nunca tivesse nascido",
        ],
        "threat": [
            "{M}vou descobrir onde você mora e te machucar",
            "{M}vou derrubar a internet da sua casa e vazar seu endereço",
            "{M}eu sei seu endereço, até hoje à noite",
            "{M}se cuida, tô indo atrás de você",
            "{M}vou quebrar todos os seus ossos",
            "{M}vou mandar a polícia invadir sua casa",
            "{M}amanhã posto seu nome verdadeiro e sua escola, aproveita",
            "{M}mais uma palavra e eu te esfaqueio",
            "{M}vou ligar pra polícia com um falso sequestro na sua casa",
            "{M}sua família não vai estar segura depois do que você fez",
            "{M}vou te dar um tiro quando te achar",
        ],
        "self_harm": [
            "{M}ninguém vai sentir sua falta se você for, acaba logo com isso",
            "{M}se mata",
            "{M}vai se matar",
            "{M}faz um favor pra todo mundo e se enforca",
            "{M}pula de uma ponte logo",
            "{M}você devia tirar a própria vida, sério",
            "{M}por que você ainda tá vivo? faz logo",
            "{M}bebe água sanitária e poupa a gente",
            "{M}corta mais fundo da próxima vez",
            "{M}o mundo seria melhor se você se matasse",
        ],
        "identity_hate": [
            "{G} são uma praga e têm que ser expulsos",
            "todos {G} são animais nojentos",
            "{G} estão destruindo esse país",
            "eu odeio {G}, tinham que morrer todos",
            "{G} não merecem direitos",
            "{G} são sub-humanos, simples assim",
            "tem que mandar {G} pra câmara de gás",
            "nunca confie n{G}, são todos bandidos",
            "{G} deviam ser banidos do servidor, são uma doença",
            "a gente precisa se livrar d{G} de vez",
        ],
        "sexual": [
            "{M}manda nudes",
            "{M}me mostra seu corpo, eu sei que você quer",
            "{M}quero te ver pelada",
            "{M}qual o tamanho dos seus peitos",
            "{M}senta no meu colo que eu te faço gemer",
            "{M}tô me tocando pensando em você",
            "{M}vamos transar, eu sei onde você mora",
            "{M}tira a roupa na câmera",
            "{M}o que você tá vestindo agora? fala a verdade",
            "{M}eu te comeria com muita força",
        ],
    },
}

LANG_TAG = {"en": "en", "de": "de", "fr": "fr", "es": "es", "pt": "pt-BR"}

# Casual noise that keeps messages from being template-exact.
SUFFIXES = {
    "en": ["", "", "", " lol", " tbh", " fr", " 😂", "!!", " ...", " honestly"],
    "de": ["", "", "", " lol", " ehrlich", " digga", " 😂", "!!", " ...", " echt jetzt"],
    "fr": ["", "", "", " mdr", " sérieux", " frère", " 😂", " !!", " ...", " franchement"],
    "es": ["", "", "", " jaja", " en serio", " tío", " 😂", "!!", " ...", " de verdad"],
    "pt": ["", "", "", " kkkk", " sério", " mano", " 😂", "!!", " ...", " na moral"],
}

# ---------------------------------------------------------------------------------------
# Obfuscations.
# ---------------------------------------------------------------------------------------

LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
CONFUSABLE = {"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "i": "і", "y": "у"}
ZW = ["\u200b", "\u200c", "\u200d", "\u2060"]


def words_to_hit(text):
    """Indices of the longest words (at least 4 letters), the ones obfuscation targets."""
    ws = text.split(" ")
    idx = [i for i, w in enumerate(ws) if sum(c.isalpha() for c in w) >= 4 and "<@" not in w]
    idx.sort(key=lambda i: -len(ws[i]))
    return ws, idx[:2]


def obfuscate(text, kind, rng):
    ws, idx = words_to_hit(text)
    if not idx:
        return None
    for i in idx:
        w = ws[i]
        if kind == "leet":
            w = "".join(LEET.get(c, c) if rng.random() < 0.7 else c for c in w)
        elif kind == "spacing":
            w = " ".join(w)
        elif kind == "confusable":
            w = "".join(CONFUSABLE.get(c, c) for c in w)
        elif kind == "zero_width":
            w = "".join(c + (rng.choice(ZW) if k % 2 == 0 else "") for k, c in enumerate(w))
        elif kind == "repeat":
            k = rng.randrange(len(w))
            w = w[:k] + w[k] * 4 + w[k + 1:]
        elif kind == "censor":
            vowels = [k for k, c in enumerate(w) if c in "aeiou" and 0 < k < len(w) - 1]
            if not vowels:
                continue
            k = rng.choice(vowels)
            w = w[:k] + "*" + w[k + 1:]
        ws[i] = w
    out = " ".join(ws)
    return out if out != text else None


OBFUSCATIONS = ["leet", "spacing", "confusable", "zero_width", "repeat", "censor"]


def fill(template, vocab, rng):
    out = template
    for slot in "NBAMGXFTPW":
        while "{" + slot + "}" in out:
            out = out.replace("{" + slot + "}", rng.choice(vocab[slot]), 1)
    return out


def vary_case(text, rng):
    r = rng.random()
    if r < 0.15:
        return text.lower()
    if r < 0.22:
        return text.upper()
    if r < 0.5 and text and text[0].isalpha():
        return text[0].upper() + text[1:]
    return text


def split_templates(n, rng):
    """Split labels for n templates: about a fifth held out for test, a sixth for dev."""
    order = list(range(n))
    rng.shuffle(order)
    n_test = max(2, round(n * 0.2))
    n_dev = max(1, round(n * 0.15))
    labels = [""] * n
    for rank, t in enumerate(order):
        labels[t] = "test" if rank < n_test else "dev" if rank < n_test + n_dev else "train"
    return labels


def main():
    rng = random.Random(SEED)
    rows = []
    for lang in ["en", "de", "fr", "es", "pt"]:
        vocab = VOCAB[lang]
        for cat in CATEGORIES:
            templates = TEMPLATES[lang][cat]
            labels = split_templates(len(templates), rng)
            per = PER_TEMPLATE + (2 if cat == "clean" else 0)
            for t, template in enumerate(templates):
                seen = set()
                for _ in range(per * 4):
                    if len(seen) >= per:
                        break
                    text = vary_case(fill(template, vocab, rng), rng)
                    text += rng.choice(SUFFIXES[lang])
                    text = " ".join(text.split())
                    if text in seen:
                        continue
                    seen.add(text)
                    tid = f"{lang}-{cat}-{t:02d}"
                    rows.append((labels[t], LANG_TAG[lang], cat, tid, "plain", text))
                    if rng.random() < OBFUSCATED_SHARE:
                        kind = rng.choice(OBFUSCATIONS)
                        ob = obfuscate(text, kind, rng)
                        if ob is not None:
                            rows.append((labels[t], LANG_TAG[lang], cat, tid, kind, ob))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus.tsv")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("# Kyuta toxicity corpus, written by generate.py (seed %d). Do not edit by hand.\n"
                % SEED)
        f.write("# split\tlang\tcategory\ttemplate\tvariant\ttext\n")
        for r in rows:
            assert all("\t" not in c and "\n" not in c for c in r), r
            f.write("\t".join(r) + "\n")
    counts = {}
    for r in rows:
        counts[r[0]] = counts.get(r[0], 0) + 1
    print(f"{len(rows)} messages: {counts}")


if __name__ == "__main__":
    main()
