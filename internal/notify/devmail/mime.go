package devmail

import "mime"

type mimeDecoder = mime.WordDecoder
