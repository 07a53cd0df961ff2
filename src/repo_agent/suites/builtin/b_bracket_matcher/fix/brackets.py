PAIRS = {")": "(", "]": "[", "}": "{"}


def is_balanced(text):
    """True if every bracket in text is closed in the right order.

    Characters other than ()[]{} are ignored.
    """
    stack = []
    for ch in text:
        if ch in "([{":
            stack.append(ch)
        elif ch in PAIRS:
            if not stack or stack.pop() != PAIRS[ch]:
                return False
    return not stack
