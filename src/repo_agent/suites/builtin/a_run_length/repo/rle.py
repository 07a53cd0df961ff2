"""Run-length encoding such as 'aaab' <-> '3a1b'."""


def rle_encode(text):
    """Encode text as count+char pairs, e.g. 'aaab' -> '3a1b'."""
    out = []
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and text[j] == text[i]:
            j += 1
        out.append(f"{j - i}{text[i]}")
        i = j
    return "".join(out)


def rle_decode(code):
    """Decode a string produced by rle_encode (text must not contain digits)."""
    out = []
    count = 0
    for ch in code:
        if ch.isdigit():
            count = int(ch)
        else:
            out.append(ch * count)
            count = 0
    return "".join(out)
