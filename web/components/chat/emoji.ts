// The emoji the reaction picker offers, each with the words it is found by. A short common set
// rather than a library of thousands: a reaction is usually one of a few dozen, and this stays
// small enough to load with the picker.

/** The reactions offered first, in one tap. */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];

export const EMOJI: { emoji: string; name: string }[] = [
  ['👍', 'thumbs up yes like ok'], ['👎', 'thumbs down no dislike'], ['❤️', 'red heart love'], ['😂', 'tears of joy laugh lol'],
  ['😮', 'open mouth wow surprised'], ['😢', 'crying sad tear'], ['🙏', 'folded hands please thanks pray'], ['🎉', 'party popper celebrate tada'],
  ['🔥', 'fire hot lit'], ['👏', 'clapping hands applause bravo'], ['😀', 'grinning smile happy'], ['😁', 'beaming grin'],
  ['😊', 'smiling blush'], ['😍', 'heart eyes love'], ['🥰', 'smiling hearts adore'], ['😘', 'blowing kiss'],
  ['😉', 'wink'], ['😎', 'sunglasses cool'], ['🤔', 'thinking hmm'], ['🤣', 'rolling floor laughing rofl'],
  ['😅', 'sweat smile phew'], ['😬', 'grimace awkward'], ['🙄', 'eye roll'], ['😴', 'sleeping tired'],
  ['😡', 'angry pout mad'], ['😱', 'screaming fear shock'], ['🥳', 'partying birthday'], ['🤯', 'mind blown exploding head'],
  ['😇', 'halo angel innocent'], ['🤗', 'hug hugging'], ['🤝', 'handshake deal agree'], ['✌️', 'victory peace'],
  ['👌', 'ok hand perfect'], ['💪', 'flexed biceps strong'], ['👋', 'waving hand hello bye'], ['🙌', 'raising hands hooray'],
  ['💯', 'hundred points perfect'], ['✅', 'check mark done yes'], ['❌', 'cross mark no wrong'], ['⭐', 'star favourite'],
  ['💔', 'broken heart'], ['💙', 'blue heart'], ['💚', 'green heart'], ['💜', 'purple heart'],
  ['🌟', 'glowing star'], ['☀️', 'sun sunny'], ['🌧️', 'rain cloud'], ['🎂', 'birthday cake'],
  ['☕', 'coffee hot beverage'], ['🍕', 'pizza food'], ['🍻', 'beers cheers'], ['🥂', 'champagne toast cheers'],
  ['🚀', 'rocket launch ship'], ['👀', 'eyes look see'], ['🤷', 'shrug dunno'], ['🤦', 'facepalm'],
  ['🙈', 'see no evil monkey'], ['💩', 'pile of poo'], ['🎁', 'gift present'], ['⚽', 'soccer football'],
  ['🐶', 'dog puppy'], ['🐱', 'cat kitten'], ['🌹', 'rose flower'], ['😋', 'yum delicious'],
].map(([emoji, name]) => ({ emoji, name }));
